// A registered API (注册 API) built in the console's form: a mock upstream on loopback, a
// caller parameter mapped to a differently named backend parameter, a header constant holding
// a secret; tested in the Test tab; then only the timeout changed, and the secret the server
// redacted on read must still reach the upstream. The secret never appears in the page.
import http from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { eventually, label } from "./common.mjs";

const require = createRequire(import.meta.url);
/** What the mock echoes in place of the key when it is the expected one. */
const MATCHED = "(the expected secret)";

/** JSON with its keys sorted, to compare shapes whatever the order of their keys. */
function canonical(value) {
  return JSON.stringify(value, (_, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}

/** Picks a segment of a Mantine SegmentedControl: its radio is visually hidden, its label takes the click. */
async function segment(scope, name) {
  const radio = scope.getByRole("radio", { name, exact: true });
  const id = await radio.getAttribute("id");
  await scope.locator(`label[for="${id}"]`).click();
  if (!(await radio.isChecked())) throw new Error(`segment ${name} is not chosen`);
}

/** Listens on a free loopback port between 20000 and 32000. */
async function listen(server) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise((resolve) => {
      const refused = () => resolve(false);
      server.once("error", refused);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", refused);
        resolve(true);
      });
    });
    if (ok) return port;
  }
  throw new Error("no free port between 20000 and 32000 for the mock upstream");
}

export default async function walk(ctx) {
  const { page, go, api, shot, expect, log } = ctx;
  const suffix = Date.now().toString(36);
  const secret = `sk-walk-${suffix}-${Math.random().toString(36).slice(2, 12)}`;

  // The upstream echoes the query and headers it received as JSON. The key's own value is
  // echoed as whether it matched: the console shows the answer, and the secret must not be in
  // the page. What it really received is kept here to compare.
  const received = [];
  const upstream = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream.invalid");
    const query = Object.fromEntries(url.searchParams);
    received.push({ path: url.pathname, query, headers: { ...req.headers } });
    const headers = { ...req.headers };
    if (headers["x-api-key"] !== undefined) headers["x-api-key"] = headers["x-api-key"] === secret ? MATCHED : "(another value)";
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ path: url.pathname, query, headers }));
  });
  const port = await listen(upstream);
  log(`mock upstream on 127.0.0.1:${port}`);
  const secretShown = async (where) => {
    const html = await page.content();
    const at = html.indexOf(secret);
    expect(at < 0, `the constant's value is in the page's HTML (${where}): …${html.slice(Math.max(0, at - 300), at + 100)}…`);
  };

  try {
    // New API → Registered: the backend, a mapped parameter, a header constant.
    const name = `reg_echo_${suffix}`;
    await go("/w/demo/apis");
    await page.getByRole("link", { name: "New API" }).click();
    await segment(page, "Registered");
    await page.getByLabel(label("API name")).fill(name);
    await page.getByLabel(label("Path")).fill(`/reg/echo-${suffix}`);
    await page.getByLabel(label("Backend service address")).fill(`http://127.0.0.1:${port}/v1`);
    await page.getByLabel("Backend service path", { exact: true }).fill("/echo");
    await page.getByRole("button", { name: "Add parameter" }).click();
    await page.getByLabel("Parameter name 1", { exact: true }).fill("city");
    await page.getByLabel("Required 1", { exact: true }).check();
    await page.getByLabel("Example value 1", { exact: true }).fill("Berlin");
    await page.getByLabel("Backend parameter name 1", { exact: true }).fill("town");
    await page.getByRole("button", { name: "Add constant" }).click();
    await page.getByTestId("constant-state-1").filter({ hasText: "Needs a value" }).waitFor();
    await page.getByLabel("Constant name 1", { exact: true }).fill("X-Api-Key");
    await page.getByLabel("Constant value 1", { exact: true }).fill(secret);
    await page.getByTestId("constant-state-1").filter({ hasText: "New value" }).waitFor();
    const creating = page.waitForRequest((r) => r.method() === "POST" && /\/admin\/v1\/workgroups\/demo\/apis$/.test(r.url()));
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const sent = (await creating).postDataJSON().draft;
    expect(
      canonical(sent) ===
        canonical({
          mode: "registered",
          baseUrl: `http://127.0.0.1:${port}/v1`,
          path: "/echo",
          method: "GET",
          params: [{ name: "city", position: "query", type: "string", required: true, description: "", example: "Berlin", upstreamName: "town" }],
          constants: [{ name: "X-Api-Key", position: "header", value: secret }],
          timeoutMs: 10000,
          responseFormat: "JSON",
        }),
      `the new API's draft as sent: ${JSON.stringify(sent).replace(secret, "(secret)")}`,
    );
    await page.waitForURL(/\/apis\/\d+$/);
    // The API's own screen, its definition read back from the server: the constant is kept.
    await page.getByRole("tab", { name: "Test" }).waitFor();
    await page.getByTestId("constant-state-1").filter({ hasText: "Kept" }).waitFor();
    const id = Number(new URL(page.url()).pathname.split("/").pop());
    expect(id > 0, `the new API's id in ${page.url()}`);

    // What the server keeps: the mapping, the constant without its value.
    const stored = (await api("GET", `/workgroups/demo/apis/${id}`)).draft;
    expect(stored.mode === "registered" && stored.baseUrl === `http://127.0.0.1:${port}/v1` && stored.path === "/echo", `the backend: ${JSON.stringify(stored)}`);
    expect(stored.params?.[0]?.name === "city" && stored.params[0].upstreamName === "town" && stored.params[0].required === true, `the mapping: ${JSON.stringify(stored.params)}`);
    expect(JSON.stringify(stored.constants) === JSON.stringify([{ name: "X-Api-Key", position: "header" }]), `the constant, redacted: ${JSON.stringify(stored.constants)}`);
    await secretShown("after saving");

    // Test tab: the parameter arrives as `town`, the key as a header.
    await page.getByRole("tab", { name: "Test" }).click();
    await page.getByLabel(label("city")).fill("Berlin");
    await page.getByRole("button", { name: "Run" }).click();
    await page.getByTestId("test-status").filter({ hasText: "200 OK" }).waitFor();
    const echoed = JSON.parse((await page.getByTestId("test-json").textContent()) ?? "null");
    expect(echoed?.query?.town === "Berlin" && echoed.query.city === undefined, `the upstream's query, as shown: ${JSON.stringify(echoed)}`);
    expect(echoed?.headers?.["x-api-key"] === MATCHED, `the constant header, as shown: ${JSON.stringify(echoed?.headers)}`);
    const first = received.at(-1);
    expect(first?.path === "/v1/echo" && first.query.town === "Berlin" && !("city" in first.query), `the upstream received: ${JSON.stringify(first?.query)} at ${first?.path}`);
    expect(first?.headers["x-api-key"] === secret, "the upstream received the constant's value");
    await secretShown("after the test run");

    // Definition tab: the constant reads "kept"; only the timeout changes.
    await page.getByRole("tab", { name: "Definition" }).click();
    await page.getByTestId("constant-state-1").filter({ hasText: "Kept" }).waitFor();
    expect((await page.getByLabel("Constant value 1", { exact: true }).inputValue()) === "", "a kept constant's field is empty");
    const saveDraft = page.getByRole("button", { name: "Save draft" });
    expect(await saveDraft.isDisabled(), "the draft is unchanged by opening it in the form");
    // Renamed, the constant has no stored value any more; named back, it is kept again.
    const constantName = page.getByLabel("Constant name 1", { exact: true });
    await constantName.fill("X-Api-Key-2");
    await page.getByTestId("constant-state-1").filter({ hasText: "Needs a value" }).waitFor();
    await constantName.fill("X-Api-Key");
    await page.getByTestId("constant-state-1").filter({ hasText: "Kept" }).waitFor();
    const timeout = page.getByLabel("Timeout (ms)", { exact: true });
    expect((await timeout.inputValue()).replace(/\D/g, "") === "10000", `the default timeout: ${await timeout.inputValue()}`);
    await timeout.fill("7000");
    await axeClean(page, expect);
    // The mapping and the kept constant in view.
    await page.evaluate(() => document.querySelector('[data-testid="reg-mapping"]')?.scrollIntoView({ block: "start" }));
    await shot("registered-editor");
    const saving = page.waitForRequest((r) => r.method() === "PUT" && r.url().endsWith(`/workgroups/demo/apis/${id}`));
    await saveDraft.click();
    const put = (await saving).postDataJSON().draft;
    expect(put.timeoutMs === 7000 && JSON.stringify(put.constants) === JSON.stringify([{ name: "X-Api-Key", position: "header" }]), `the draft saved sends the constant without a value: ${JSON.stringify(put)}`);
    await eventually(async () => (await api("GET", `/workgroups/demo/apis/${id}`)).draft.timeoutMs === 7000, 5, "the timeout saved");
    const kept = (await api("GET", `/workgroups/demo/apis/${id}`)).draft;
    expect(JSON.stringify(kept.constants) === JSON.stringify([{ name: "X-Api-Key", position: "header" }]) && kept.params[0].upstreamName === "town", `the draft after the timeout change: ${JSON.stringify(kept)}`);
    await page.getByTestId("constant-state-1").filter({ hasText: "Kept" }).waitFor();

    // The secret was kept: the upstream still gets it.
    const before = received.length;
    const answer = await api("POST", `/workgroups/demo/apis/${id}/test`, { params: { city: "Paris" } });
    expect(answer.result?.query?.town === "Paris" && answer.result?.headers?.["x-api-key"] === MATCHED, `the test after the change: ${JSON.stringify(answer.result)}`);
    expect(received.length === before + 1 && received.at(-1).headers["x-api-key"] === secret, "the upstream received the kept constant");
    await secretShown("after the second save");
    log(`registered API ${name} (id ${id}): mapped city → town, X-Api-Key kept after a timeout change`);
  } finally {
    upstream.closeAllConnections?.();
    await new Promise((resolve) => upstream.close(resolve));
  }
}

/** No serious or critical axe-core violation on the page as it is. */
async function axeClean(page, expect) {
  await page.evaluate(readFileSync(require.resolve("axe-core/axe.min.js"), "utf8"));
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.length === 0, `axe on the registered editor: ${JSON.stringify(bad)}`);
}
