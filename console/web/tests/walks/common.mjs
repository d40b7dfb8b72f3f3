// Small steps the walks share.

/** Opens a Mantine select (by its label locator) and picks the option named `name`. */
export async function pick(page, select, name) {
  await select.click();
  await page.getByRole("option", { name, exact: typeof name === "string" }).first().click();
}

/** Retries `check` (an async function returning true when done) for up to `seconds`. */
export async function eventually(check, seconds, what) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${seconds} s${last ? `: ${last.message}` : ""}`);
}

/** Approves, in the approvals inbox, the pending request about `apiName` of `kind`. */
export async function approveInInbox(ctx, apiName, kindLabel) {
  const { page, go } = ctx;
  await go("/approvals");
  const row = page.getByTestId("approval-list").getByRole("row").filter({ hasText: apiName }).filter({ hasText: kindLabel }).first();
  await row.getByRole("button", { name: "Approve" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Comment").fill("checked in the console walk");
  await dialog.getByRole("button", { name: "Approve" }).click();
  await dialog.waitFor({ state: "hidden" });
}

/** A field's label as written, with or without the required mark. */
export function label(text) {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}( \\*)?$`);
}
