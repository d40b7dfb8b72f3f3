// Seed 000 (共享): the API seed 002 built is listed (a second platform admin approves the
// listing), a developer of another workgroup finds it in the marketplace and applies for one
// of their apps, the API's workgroup approves, and the app has the grant.
import { approveInInbox, label, pick } from "./common.mjs";

export default async function walk(ctx) {
  const { page, go, api, shot, shotOf, openSession, expect, log } = ctx;
  const built = ctx.seed002;
  expect(built, "seed 002 ran first and built the API to share");
  const suffix = Date.now().toString(36);

  // People: a second platform admin (listings need someone other than who asked) and a
  // developer of the `partners` workgroup the demo created.
  const ops = `ops_${suffix}`;
  const bob = `bob_${suffix}`;
  await api("POST", "/users", { name: ops, displayName: "Ops", platformAdmin: true });
  await api("POST", "/users", { name: bob, displayName: "Bob (partners)" });
  await api("PUT", `/workgroups/partners/members/${bob}`, { role: "developer" });
  const opsToken = (await api("POST", `/users/${ops}/tokens`, { name: "console walk" })).token;
  const bobToken = (await api("POST", `/users/${bob}/tokens`, { name: "console walk" })).token;

  // The API's team writes the listing and asks for it.
  await go(`/w/demo/apis/${built.apiId}/listing`);
  await page.getByLabel("Category").fill("sales");
  await page.getByLabel("Summary").fill("Shop orders by id");
  await page.getByLabel("Documentation").fill("Call with ?id=<order id>; amounts are in euros.");
  await page.getByRole("button", { name: "Save listing" }).click();
  await page.getByRole("button", { name: "Request listing" }).click();
  await page.getByTestId("listing-state").filter({ hasText: "Waiting for approval" }).waitFor();
  await shot("listing");

  // Another platform admin approves it in their inbox.
  const opsSession = await openSession(opsToken, "ops");
  await approveInInbox({ ...ctx, page: opsSession.page, go: opsSession.go }, built.apiName, "Listing");
  await opsSession.page.context().close();

  // Bob, in `partners`, browses the marketplace and applies for the demo's partner app.
  const bobSession = await openSession(bobToken, "bob");
  const bobPage = bobSession.page;
  // Workgroups are walls in the console too: the demo's APIs are not Bob's to list.
  await bobSession.go("/w/demo/apis");
  const refusal = bobPage.getByRole("alert");
  await refusal.waitFor();
  const said = await refusal.textContent();
  expect(/Forbidden|NotFound/.test(said ?? ""), `Bob is refused the demo's API list: ${said}`);
  expect((await bobPage.getByTestId("api-list").locator("tbody tr").count()) === 0, "no row of another workgroup shows");
  await bobSession.go("/marketplace");
  await bobPage.getByLabel("Search").fill(built.apiName);
  await bobPage.getByTestId("market-list").getByRole("link", { name: built.apiName }).click();
  await bobPage.getByTestId("openapi-view").waitFor();
  await shotOf(bobPage)("marketplace-listing");
  await pick(bobPage, bobPage.getByRole("combobox", { name: label("App") }), /partner_portal/);
  await bobPage.getByLabel("Reason").fill("the partner portal shows order status");
  await bobPage.getByRole("button", { name: "Apply for access" }).click();
  await bobPage.getByTestId("my-applications").getByText("pending").waitFor();

  // The API's workgroup (its admin) approves the application.
  await approveInInbox(ctx, built.apiName, "Access application");
  await shot("approvals");

  // Bob's app now holds the grant.
  const apps = await api("GET", "/workgroups/partners/apps?pageSize=200");
  const portal = apps.items.find((a) => a.name === "partner_portal");
  expect(portal, "the demo's partner_portal app");
  await bobSession.go(`/w/partners/apps/${portal.id}`);
  await bobPage.getByTestId("app-grants").getByText(built.apiName).waitFor();
  await shotOf(bobPage)("partner-app-grants");
  log(`partner_portal was granted ${built.apiName}`);
  await bobPage.context().close();
}
