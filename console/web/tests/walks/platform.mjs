// Platform settings in the console: a host added to the network allow list is stored, a
// dataset directory that is not absolute is refused before sending, and the settings are put
// back as they were.

export default async function walk(ctx) {
  const { page, go, api, shot, expect, log } = ctx;
  const before = await api("GET", "/platform/settings");
  await go("/platform");
  const allow = page.getByLabel("Network allow list").and(page.locator("input"));
  await allow.waitFor();
  await allow.fill("10.9.8.7");
  await allow.press("Enter");
  // A relative directory is refused in the form; nothing is sent until it is absolute.
  await page.getByRole("button", { name: "Add directory" }).click();
  await page.getByLabel("Directory (absolute path)").fill("datasets/shop");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("An absolute path, starting with /.").waitFor();
  expect(!(await api("GET", "/platform/settings")).networkAllow.includes("10.9.8.7"), "nothing was sent with a relative directory");
  await page.getByRole("button", { name: "Remove 1" }).click();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  let stored;
  for (let i = 0; i < 50 && !stored?.networkAllow.includes("10.9.8.7"); i++) {
    await new Promise((r) => setTimeout(r, 100));
    stored = await api("GET", "/platform/settings");
  }
  expect(stored?.networkAllow.includes("10.9.8.7"), `the host is allowed: ${JSON.stringify(stored)}`);
  await shot("platform-settings");
  await api("PUT", "/platform/settings", before);
  log("a host added to the network allow list and taken off again");
}
