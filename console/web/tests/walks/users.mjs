// A platform admin adds a user and gives them a token in the console; the new user signs in
// with it and sees what a user of no workgroup sees (and no user administration).
import { label } from "./common.mjs";

export default async function walk(ctx) {
  const { page, go, freshPage, consoleUrl, shot, expect, log } = ctx;
  const name = `carol_${Date.now().toString(36)}`;
  await go("/users");
  await page.getByLabel(label("User name")).fill(name);
  await page.getByLabel("Display name").fill("Carol");
  await page.getByRole("button", { name: "Add user" }).click();
  const row = page.getByTestId("user-list").getByRole("row").filter({ hasText: name });
  await row.getByRole("button", { name: "Tokens" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Issue token" }).click();
  const token = (await dialog.getByTestId("user-token").textContent())?.trim() ?? "";
  expect(token.length > 20, "a user token is shown once");
  await shot("users");
  await dialog.getByRole("button", { name: "Close" }).click();

  const carol = await freshPage("carol");
  await carol.goto(`${consoleUrl}/`);
  await carol.getByLabel("User token").fill(token);
  await carol.getByRole("button", { name: "Sign in" }).click();
  await carol.getByRole("heading", { name: "Workgroups" }).waitFor();
  expect((await carol.getByRole("link", { name: "Users" }).count()) === 0, "only platform admins see the Users screen");
  expect((await carol.getByTestId("user-name").textContent())?.includes("Carol"), "the header names who is signed in");
  log(`${name} signed in with the token the console issued`);
  await carol.context().close();
}
