// What a real product owes its users beyond the seeds' paths: signing in and moving around
// with the keyboard alone, deep links that survive signing in, and the browser's back and
// forward buttons.

export default async function walk(ctx) {
  const { consoleUrl, adminToken, freshPage, expect, log } = ctx;
  const page = await freshPage("keyboard");

  // A deep link opened signed out: sign in (keyboard only), land where the link pointed.
  await page.goto(`${consoleUrl}/w/demo/apis/1/versions`);
  const token = page.getByLabel("User token");
  await token.waitFor();
  expect(await token.evaluate((el) => el === document.activeElement), "the token field has the focus");
  await page.keyboard.type(adminToken);
  await page.keyboard.press("Enter");
  await page.getByTestId("version-list").waitFor();
  expect(new URL(page.url()).pathname === "/console/w/demo/apis/1/versions", `the deep link after sign-in: ${page.url()}`);
  expect((await page.getByRole("tab", { name: "Versions" }).getAttribute("aria-selected")) === "true", "the Versions tab is selected");

  // The first Tab reaches the skip link; Enter moves the focus to the page's content.
  await page.keyboard.press("Tab");
  const skip = await page.evaluate(() => document.activeElement?.textContent ?? "");
  expect(skip.includes("Skip to content"), `the first stop is the skip link, not "${skip}"`);
  await page.keyboard.press("Enter");
  expect(await page.evaluate(() => document.activeElement?.id === "main"), "the content has the focus after the skip link");

  // Tabs by keyboard: arrows move between them, and each has its address.
  await page.getByRole("tab", { name: "Versions" }).focus();
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Run" }).waitFor();
  expect(new URL(page.url()).pathname.endsWith("/apis/1/test"), `the Test tab's address: ${page.url()}`);

  // Back and forward walk the same places.
  await page.goBack();
  await page.getByTestId("version-list").waitFor();
  expect(new URL(page.url()).pathname.endsWith("/apis/1/versions"), `back: ${page.url()}`);
  await page.goForward();
  await page.getByRole("button", { name: "Run" }).waitFor();
  expect(new URL(page.url()).pathname.endsWith("/apis/1/test"), `forward: ${page.url()}`);

  // A filtered list is an address too: reload it after signing in again and it is kept.
  await page.goto(`${consoleUrl}/w/demo/apis?status=prod&name=order`);
  await page.getByLabel("User token").fill(adminToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("api-list").locator("tbody tr").first().waitFor();
  const names = await page.getByTestId("api-list").locator("tbody tr td:first-child").allTextContents();
  expect(names.length > 0 && names.every((n) => n.includes("order")), `the name filter from the address: ${names.join(", ")}`);
  expect((await page.getByLabel("Name contains").inputValue()) === "order", "the filter field shows the address's filter");
  log(`keyboard sign-in, deep link, tabs, back/forward and filtered addresses work (${names.length} APIs named *order*)`);
  await page.context().close();
}
