// Workgroup governance in the console: production publishing put behind an approval (and the
// publish dialog then says it waits), the audit log of what was done, and purging an API's
// cached answers.

export default async function walk(ctx) {
  const { page, go, api, shot, expect, log } = ctx;
  await go("/w/demo/settings");
  const approval = page.getByLabel("Publishing to production waits for a workgroup admin's approval");
  await approval.waitFor();
  const before = (await api("GET", "/workgroups/demo")).settings;
  await approval.check();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  let stored;
  for (let i = 0; i < 50 && !stored?.publishApproval; i++) {
    await new Promise((r) => setTimeout(r, 100));
    stored = (await api("GET", "/workgroups/demo")).settings;
  }
  expect(stored?.publishApproval === true, "the setting is stored");
  // What was just done is in the audit log, newest first.
  await page.getByTestId("audit-log").locator("tbody tr").first().filter({ hasText: "workgroup.update" }).waitFor();
  await shot("workgroup-settings");

  // Publishing to prod now asks for approval: the dialog says the request waits.
  await go("/w/demo/apis/1/versions");
  await page.getByLabel("Version description").fill("behind approval");
  await page.getByRole("button", { name: "Save draft as a version" }).click();
  const publish = page.getByRole("button", { name: /^Publish to prod V/ }).last();
  await publish.click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Reason").fill("checked by the console walk");
  await dialog.getByRole("button", { name: "Publish", exact: true }).click();
  await dialog.getByTestId("publish-requested").waitFor();
  await dialog.getByRole("button", { name: "Close" }).last().click();
  const pending = await api("GET", "/approvals?box=mine&state=pending&pageSize=100");
  expect(pending.items.some((a) => a.kind === "publish" && a.apiName === "customer_by_id"), "the publish request waits, among my requests");

  // Purging cached answers is one click on the API's settings.
  await go("/w/demo/apis/1/settings");
  await page.getByRole("button", { name: "Purge cached answers" }).click();
  await page.getByText("Cached answers purged").first().waitFor();

  // Put the workgroup back as it was for the walks after this one.
  await api("PATCH", "/workgroups/demo", { settings: before });
  log("publish approval switched on and off, the request waited, the audit log showed it, the cache was purged");
}
