// Alarms (seed 002: 报警模板 when creating an API, 报警配置 in API 详情): on API 1
// (customer_by_id) of workgroup demo, in the browser, an alarm rule is added (a negative
// threshold is refused before anything is sent; a receiver who is no member is refused by the
// server, its message next to the receivers field), listed, disabled, its threshold changed,
// and deleted after confirming; then the workgroup's alarm template is edited and saved, and
// what was stored is read back through the management API. axe-core checks both screens.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { eventually, label, pick } from "./common.mjs";

const require = createRequire(import.meta.url);

/** No serious or critical axe-core violation on the page as it is. */
async function accessible(page, where, expect) {
  await page.evaluate(readFileSync(require.resolve("axe-core/axe.min.js"), "utf8"));
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.length === 0, `axe ${where}: ${bad.map((v) => `${v.impact} ${v.id} at ${v.nodes.join(", ")}`).join("; ")}`);
}

/** The messages a field points to (its description and its error). */
async function messagesOf(field) {
  const ids = ((await field.getAttribute("aria-describedby")) ?? "").split(/\s+/).filter(Boolean);
  const texts = [];
  for (const id of ids) texts.push(await field.page().locator(`[id="${id}"]`).textContent().catch(() => ""));
  return texts.join(" | ");
}

export default async function walk(ctx) {
  const { page, go, api, shot, expect, log } = ctx;
  const wg = "demo";
  const apiId = 1;
  const rulesPath = `/workgroups/${wg}/apis/${apiId}/alarms`;
  const suffix = Date.now().toString(36);

  // Receivers are members of the API's workgroup: the signed-in platform admin joins demo.
  const me = (await api("GET", "/me")).user.name;
  const members = await api("GET", `/workgroups/${wg}/members`);
  if (!members.some((m) => m.userName === me)) await api("PUT", `/workgroups/${wg}/members/${me}`, { role: "admin" });

  // What the console sends about this API's rules.
  const sent = [];
  const onRequest = (r) => {
    if (r.url().includes(`/admin/v1${rulesPath}`) && r.method() !== "GET") sent.push({ method: r.method(), url: r.url(), body: r.postDataJSON() });
  };
  page.on("request", onRequest);
  try {
    await go(`/w/${wg}/apis/${apiId}`);
    await page.getByRole("tab", { name: "Alarms" }).click();
    await page.getByTestId("alarm-rules").waitFor();
    expect(new URL(page.url()).pathname.endsWith(`/apis/${apiId}/alarms`), `the Alarms tab's address: ${page.url()}`);
    expect((await page.getByRole("tab", { name: "Alarms" }).getAttribute("aria-selected")) === "true", "the Alarms tab is selected");

    // A negative threshold: refused in the form, nothing sent.
    const form = page.getByRole("form", { name: "New alarm rule" });
    await pick(page, form.getByRole("combobox", { name: label("Metric") }), "Error rate");
    await pick(page, form.getByRole("combobox", { name: label("Environment") }), "Production");
    const threshold = form.getByLabel(label("Threshold (%)"));
    await threshold.fill("-5");
    await form.getByLabel(label("Window (minutes)")).fill("5");
    await form.getByLabel(label("Hold for (seconds)")).fill("120");
    await form.getByRole("button", { name: "Add rule" }).click();
    await eventually(async () => (await threshold.getAttribute("aria-invalid")) === "true", 5, "the threshold field marked invalid");
    expect((await messagesOf(threshold)).includes("A number of at least 0."), `the threshold's message: ${await messagesOf(threshold)}`);
    expect(sent.length === 0, `a negative threshold was sent: ${JSON.stringify(sent)}`);
    await accessible(page, "api-alarms (form errors)", expect);

    // A receiver who is no member of demo: the server refuses, its message on the field.
    await threshold.fill("5");
    const receivers = form.getByRole("combobox", { name: label("Receivers") });
    const outsider = `not_a_member_${suffix}`;
    await receivers.fill(outsider);
    await receivers.press("Enter");
    const refused = page.waitForResponse((r) => r.url().endsWith(`/admin/v1${rulesPath}`) && r.request().method() === "POST");
    await form.getByRole("button", { name: "Add rule" }).click();
    const refusal = await (await refused).json();
    expect(refusal.code === "InvalidParameter.receivers" && refusal.field === "receivers", `the refusal: ${JSON.stringify(refusal)}`);
    await eventually(async () => (await messagesOf(receivers)).includes("is not a member of workgroup demo"), 5, "the server's message next to the receivers field");
    expect((await messagesOf(receivers)).includes("InvalidParameter.receivers"), `the code next to the field: ${await messagesOf(receivers)}`);
    expect(!(await messagesOf(threshold)).includes("at least 0"), "the threshold is no longer marked");

    // The rule: error rate above 5% over 5 minutes for 2 minutes, the admin told.
    await receivers.press("Backspace");
    await receivers.fill(me);
    await receivers.press("Enter");
    const created = page.waitForResponse((r) => r.url().endsWith(`/admin/v1${rulesPath}`) && r.request().method() === "POST");
    await form.getByRole("button", { name: "Add rule" }).click();
    const answer = await created;
    expect(answer.status() === 201, `creating the rule: ${answer.status()} ${await answer.text()}`);
    const rule = (await answer.json()).data;
    const body = answer.request().postDataJSON();
    log(`POST ${rulesPath} ${JSON.stringify(body)} → rule ${rule.id}`);
    expect(
      body.metric === "errorRate" && body.env === "prod" && body.windowSecs === 300 && body.threshold === 0.05 && body.forSecs === 120 && body.receivers?.join() === me && body.enabled === true,
      `the body sent: ${JSON.stringify(body)}`,
    );
    const row = page.getByTestId(`alarm-rule-${rule.id}`);
    await row.waitFor();
    const cells = await row.locator("td").allTextContents();
    for (const want of ["Error rate", "Above the threshold", "5%", "5 min", "2 min", "Production", me, "OK"]) expect(cells.includes(want), `the listed rule shows ${want}: ${cells.join(" | ")}`);
    const toggle = row.getByRole("switch", { name: `Rule ${rule.id} enabled` });
    expect(await toggle.isChecked(), "the new rule is enabled");
    await shot("api-alarms");
    await accessible(page, "api-alarms", expect);

    // Disable it.
    await toggle.click({ force: true });
    await eventually(async () => (await api("GET", `${rulesPath}/${rule.id}`)).enabled === false, 5, "the rule disabled on the server");
    await eventually(async () => !(await toggle.isChecked()), 5, "the switch shows the rule disabled");

    // Raise its threshold to 10%: only what changed is sent.
    await row.getByRole("button", { name: `Edit rule ${rule.id}` }).click();
    const dialog = page.getByRole("dialog", { name: `Edit alarm rule ${rule.id}` });
    const editThreshold = dialog.getByLabel(label("Threshold (%)"));
    expect((await editThreshold.inputValue()) === "5", `the edit form shows the threshold: ${await editThreshold.inputValue()}`);
    expect(!(await dialog.getByRole("switch", { name: "Enabled" }).isChecked()), "the edit form shows the rule disabled");
    await editThreshold.fill("10");
    const patched = page.waitForResponse((r) => r.url().endsWith(`/admin/v1${rulesPath}/${rule.id}`) && r.request().method() === "PATCH");
    await dialog.getByRole("button", { name: "Save" }).click();
    const patch = await patched;
    log(`PATCH ${rulesPath}/${rule.id} ${JSON.stringify(patch.request().postDataJSON())}`);
    expect(JSON.stringify(patch.request().postDataJSON()) === JSON.stringify({ threshold: 0.1 }), `the edit sent ${patch.request().postDataJSON()}`);
    await dialog.waitFor({ state: "hidden" });
    await eventually(async () => (await row.getByTestId("alarm-threshold").textContent()) === "10%", 5, "the list shows the new threshold");
    const stored = await api("GET", `${rulesPath}/${rule.id}`);
    expect(stored.threshold === 0.1 && stored.enabled === false && stored.receivers.join() === me, `the rule as stored: ${JSON.stringify(stored)}`);

    // Delete it, after confirming.
    await row.getByRole("button", { name: `Delete rule ${rule.id}` }).click();
    const confirm = page.getByRole("dialog", { name: "Please confirm" });
    await confirm.getByText(`Delete alarm rule ${rule.id}`).waitFor();
    await confirm.getByRole("button", { name: "Delete" }).click();
    await row.waitFor({ state: "detached" });
    expect(!(await api("GET", rulesPath)).some((r) => r.id === rule.id), "the rule is deleted on the server");
    log(`rule ${rule.id}: added, listed, disabled, threshold 5% → 10%, deleted (${sent.map((s) => s.method).join(", ")})`);
  } finally {
    page.off("request", onRequest);
  }

  // The workgroup's alarm template: turned on, a p99 latency rule added, saved.
  const templatePath = `/workgroups/${wg}/alarm-template`;
  const before = await api("GET", templatePath);
  try {
    await go(`/w/${wg}/reports?tab=template`);
    const template = page.getByTestId("alarm-template");
    await template.getByRole("button", { name: "Save template" }).waitFor();
    expect((await page.getByRole("tab", { name: "Alarm template" }).getAttribute("aria-selected")) === "true", "the Alarm template tab is selected");
    const on = template.getByRole("switch", { name: "Turn on the alarm template" });
    if (!(await on.isChecked())) await on.click({ force: true });
    await template.getByRole("button", { name: "Add rule" }).click();
    const index = before.rules.length;
    const added = template.getByRole("group", { name: `Template rule ${index + 1}` });
    await pick(page, added.getByRole("combobox", { name: label("Metric") }), "Latency (p99)");
    await pick(page, added.getByRole("combobox", { name: label("Environment") }), "Test");
    const ms = 1500 + (Date.now() % 500);
    await added.getByLabel(label("Threshold (ms)")).fill(String(ms));
    // A window that is no whole number of minutes from 1 to 1440: refused before sending.
    const windowField = added.getByLabel(label("Window (minutes)"));
    await windowField.fill("0");
    await added.getByLabel(label("Hold for (seconds)")).fill("60");
    let puts = 0;
    const countPuts = (r) => {
      if (r.method() === "PUT" && r.url().endsWith(`/admin/v1${templatePath}`)) puts += 1;
    };
    page.on("request", countPuts);
    await template.getByRole("button", { name: "Save template" }).click();
    await eventually(async () => (await messagesOf(windowField)).includes("Whole minutes from 1 to 1440."), 5, "the window refused in the form");
    expect(puts === 0, "a template with a bad window was sent");
    page.off("request", countPuts);
    await windowField.fill("10");
    const saved = page.waitForResponse((r) => r.url().endsWith(`/admin/v1${templatePath}`) && r.request().method() === "PUT");
    await template.getByRole("button", { name: "Save template" }).click();
    const put = await saved;
    expect(put.status() === 200, `saving the template: ${put.status()} ${await put.text()}`);
    log(`PUT ${templatePath} ${JSON.stringify(put.request().postDataJSON())}`);
    await template.getByText(/^Saved .* by /).waitFor();
    const stored = await api("GET", templatePath);
    const last = stored.rules[index];
    expect(stored.enabled === true && stored.rules.length === index + 1, `the template as stored: ${JSON.stringify(stored)}`);
    expect(
      last && last.metric === "p99Ms" && last.env === "test" && last.windowSecs === 600 && last.threshold === ms && last.forSecs === 60,
      `the template's new rule as stored: ${JSON.stringify(last)}`,
    );
    expect(stored.updatedBy === me, `the template saved by ${stored.updatedBy}`);
    await shot("alarm-template");
    await accessible(page, "alarm-template", expect);
    log(`alarm template stored: enabled, ${stored.rules.length} rule(s), the new one p99Ms > ${ms} ms over 10 min in test`);
  } finally {
    // Leave the template as it was: later walks create APIs.
    await api("PUT", templatePath, { enabled: before.enabled, rules: before.rules });
  }
}
