// Seed 002 (API 开发): a datasource, a wizard API over one of its tables, a test run, a
// version published to production, an app with a token, a grant, and a call at the edge.
import { approveInInbox, eventually, label, pick } from "./common.mjs";

export default async function walk(ctx) {
  const { page, go, psql, edgeUrl, shot, expect, log } = ctx;
  const suffix = Date.now().toString(36);
  const table = `console_orders_${suffix}`;
  psql(`CREATE TABLE ${table} (id int PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), status text);
        INSERT INTO ${table} VALUES (1, 'Ada', 12.50, 'paid'), (2, 'Lin', 8.00, 'open')`);

  // Datasource: create, test the connection.
  const dsName = `shop_pg_${suffix}`;
  await go("/w/demo/datasources");
  await page.getByRole("button", { name: "New datasource" }).click();
  let dialog = page.getByRole("dialog");
  await dialog.getByLabel(label("Name")).fill(dsName);
  await pick(page, dialog.getByRole("combobox", { name: label("Kind") }), "postgres");
  await dialog.getByLabel("Host").fill("127.0.0.1");
  await dialog.getByLabel("Port").fill("5432");
  await dialog.getByLabel("Database").fill("test");
  await dialog.getByLabel("User name").fill("postgres");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.waitFor({ state: "hidden" });
  const dsRow = page.getByTestId("datasource-list").getByRole("row").filter({ hasText: dsName });
  await dsRow.getByRole("button", { name: "Test connection" }).click();
  await dsRow.getByText("Connected").waitFor();
  await shot("datasources");

  // A mistake gets the API's code and message: the same name again.
  await page.getByRole("button", { name: "New datasource" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByLabel(label("Name")).fill(dsName);
  await pick(page, dialog.getByRole("combobox", { name: label("Kind") }), "postgres");
  await dialog.getByLabel("Database").fill("test");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.getByRole("alert").filter({ hasText: "Conflict" }).waitFor();
  await dialog.getByRole("button", { name: "Cancel" }).click();

  // Wizard API: table → columns → parameters.
  const apiName = `console_orders_${suffix}`;
  const path = `/shop/orders-${suffix}`;
  await go("/w/demo/apis/new");
  await page.getByLabel("API name").fill(apiName);
  await page.getByLabel(label("Path")).fill(path);
  // Public: seed 000 lists it in the marketplace for other workgroups.
  await pick(page, page.getByRole("combobox", { name: label("Visible to") }), "Every workgroup (public)");
  await pick(page, page.getByRole("combobox", { name: label("Datasource") }), new RegExp(dsName));
  await pick(page, page.getByRole("combobox", { name: label("Table") }), table);
  await page.getByRole("button", { name: "Return every column" }).click();
  await page.getByRole("button", { name: "Parameter from id" }).click();
  await page.getByRole("combobox", { name: "Field security level 2" }).waitFor();
  await pick(page, page.getByRole("combobox", { name: label("Field security level 2") }), "L2");
  await shot("api-wizard");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("tab", { name: "Test" }).waitFor();
  const apiId = Number(new URL(page.url()).pathname.match(/\/apis\/(\d+)/)?.[1]);
  expect(apiId > 0, `the new API's id in ${page.url()}`);

  // Test: a form, the result as a table, the SQL in the request log.
  await page.getByRole("tab", { name: "Test" }).click();
  await page.getByLabel(label("id")).fill("1");
  // Kept as the draft's success sample; the version saved below carries it.
  await page.getByLabel("Save as sample").check();
  await page.getByRole("button", { name: "Run" }).click();
  await page.getByTestId("test-status").filter({ hasText: "200 OK" }).waitFor();
  await page.getByTestId("test-table").getByText("Ada").waitFor();
  await page.getByRole("tab", { name: "Request log" }).click();
  const sql = await page.getByTestId("test-sql").textContent();
  expect(sql?.includes(table), `the request log shows the SQL over ${table}: ${sql}`);
  await page.getByRole("tab", { name: "Table" }).click();
  await shot("api-test");

  // Its basic information changes after creation too (the seeds' API 详情).
  await page.getByRole("tab", { name: "Settings" }).click();
  await page.getByLabel("Max QPS").fill("50");
  await page.getByLabel("Description").fill("Orders of the shop, by id");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await eventually(async () => (await ctx.api("GET", `/workgroups/demo/apis/${apiId}`)).maxQps === 50, 5, "the max QPS saved");
  await shot("api-settings");

  // A version, published to production (approved in the inbox when the workgroup asks for it).
  await page.getByRole("tab", { name: "Versions" }).click();
  await page.getByLabel("Version description").fill("first version");
  await page.getByRole("button", { name: "Save draft as a version" }).click();
  await page.getByTestId("version-list").getByRole("button", { name: "Samples" }).click();
  const sample = await page.getByTestId("success-sample").textContent();
  expect(sample?.includes("Ada"), `V0 carries the sample saved in the test: ${sample}`);
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "hidden" });
  await page.getByRole("button", { name: "Publish to prod V0" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByLabel("Reason").fill("orders for the shop front");
  await dialog.getByRole("button", { name: "Publish", exact: true }).click();
  const requested = await Promise.race([
    dialog.waitFor({ state: "hidden" }).then(() => false),
    page.getByTestId("publish-requested").waitFor().then(() => true),
  ]);
  if (requested) {
    log("publishing to prod waits for approval: approving it in the inbox");
    await dialog.getByRole("button", { name: "Close" }).click();
    await approveInInbox(ctx, apiName, "Publish to prod");
    await go(`/w/demo/apis/${apiId}/versions`);
  }
  await page.getByTestId("version-list").getByText("prod").waitFor();
  await shot("api-versions");

  // An app, its secret shown once, a token.
  const appName = `console-app-${suffix}`;
  await go("/w/demo/apps");
  await page.getByRole("button", { name: "New app" }).click();
  dialog = page.getByRole("dialog");
  await dialog.getByLabel(label("Name")).fill(appName);
  await pick(page, dialog.getByRole("combobox", { name: label("Clearance") }), "L2");
  await dialog.getByRole("button", { name: "Create" }).click();
  const appKey = (await page.getByTestId("app-key").textContent())?.trim();
  expect(appKey, "the new app's key is shown");
  await page.getByRole("link", { name: "Open the app" }).click();
  await page.getByRole("button", { name: "Issue token" }).click();
  const token = (await page.getByTestId("app-token").textContent())?.trim();
  expect(token?.startsWith("sat_"), `an app token is shown once: ${token}`);
  await shot("app");

  // The grant, given by the API's workgroup admin.
  await go(`/w/demo/apis/${apiId}/grants`);
  await pick(page, page.getByRole("combobox", { name: label("App") }), new RegExp(appName));
  await page.getByRole("button", { name: "Grant", exact: true }).click();
  await page.getByTestId("grant-list").getByText(appName).waitFor();
  await shot("api-grants");

  // The call at the edge, as the app.
  let body = "";
  await eventually(
    async () => {
      const r = await fetch(`${edgeUrl}${path}?id=1`, { headers: { "X-Sluice-App-Key": appKey, Authorization: `Bearer ${token}` } });
      body = await r.text();
      return r.status === 200;
    },
    10,
    `a 200 from the edge for ${path}`,
  );
  expect(body.includes("Ada"), `the edge answers the row: ${body}`);
  log(`edge answered ${path}: ${body.slice(0, 120)}`);
  ctx.seed002 = { apiId, apiName, path, appName, appKey, token };
}
