// Seed 001 in the browser: a workflow API built in the graph editor by clicking — an API node
// reading a demo customer (GET /customers/{id}, `customer_by_id`), a Python function, a switch on
// `$.user_id` and two end nodes, wired with JSONPath — saved as the draft and run from the Test
// tab, whose answer and per-node trace must show.
//
// ctx: { page (signed in, at the console), consoleUrl, api(method, path, body), edgeUrl,
//        shot(name), log(msg) }

const WG = "demo";
const CALLED = "customer_by_id";

const PYTHON = `# -*- coding: utf-8 -*-
import json
def handler(event, context):
    obj = json.loads(event)
    obj["greeting"] = "hello, " + obj["name"]
    return obj
`;

/** Picks a segment of a Mantine SegmentedControl: its radio is visually hidden, its label takes the click. */
async function segment(scope, name) {
  const radio = scope.getByRole("radio", { name, exact: true });
  const id = await radio.getAttribute("id");
  await scope.locator(`label[for="${id}"]`).click();
  if (!(await radio.isChecked())) throw new Error(`seed-001 walk: segment ${name} is not chosen`);
}

function check(condition, message) {
  if (!condition) throw new Error(`seed-001 walk: ${message}`);
}

export default async function walk(ctx) {
  const { page, log, shot } = ctx;
  const begun = Date.now();
  const stamp = Date.now().toString(36);
  const name = `seed001_${stamp}`;
  const path = `/wf/seed001-${stamp}`;

  // The labels below are the English ones.
  if (await page.getByRole("radio", { name: "EN", exact: true }).count()) await segment(page, "EN");

  // The demo's API the workflow calls: where is it published? API nodes call the version of the
  // environment the test run names.
  const listed = await ctx.api("GET", `/workgroups/${WG}/apis?name=${CALLED}&pageSize=50`);
  const callee = listed.items.find((a) => a.name === CALLED);
  check(callee, `the demo workgroup has no API ${CALLED}`);
  const environment = callee.publications.some((p) => p.environment === "test") ? "test" : "prod";
  check(callee.publications.length > 0, `${CALLED} is not published`);

  // Workgroup demo → APIs → New API.
  log("open workgroup demo → APIs → New API");
  await page.getByRole("link", { name: "Workgroups", exact: true }).click();
  await page.getByRole("link", { name: WG, exact: true }).click();
  await page.getByRole("navigation").getByRole("link", { name: "APIs", exact: true }).click();
  await page.getByRole("link", { name: "New API" }).click();

  // Mode workflow, a name and a path; saved as a new API's draft.
  await segment(page, "Workflow");
  await page.getByLabel("API name").fill(name);
  await page.getByLabel("Path").fill(path);
  // Where the new-API form shows the definition as JSON, it must be a workflow the server reads
  // (WorkflowSpec needs `start` and `nodes`).
  const asJson = page.getByLabel("Definition (JSON)");
  if ((await asJson.count()) > 0 && !/"start"/.test(await asJson.inputValue())) {
    log("the new-API form's workflow JSON has no start: giving it an empty workflow");
    await asJson.fill(JSON.stringify({ mode: "workflow", start: "", nodes: [] }, null, 2));
  }
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.waitForURL(/\/apis\/\d+$/, { timeout: 15_000 });
  const id = Number(new URL(page.url()).pathname.split("/").pop());
  log(`created workflow API ${name} (id ${id})`);

  const editor = page.getByTestId("workflow-editor");
  await editor.waitFor({ timeout: 20_000 });
  const panel = page.getByTestId("wf-panel");
  const select = async (label, option) => {
    await panel.getByRole("combobox", { name: label }).click();
    await page.getByRole("option", { name: option }).first().click();
  };

  // The workflow's request parameter: id (int, required), START's output.
  log("request parameter id");
  await editor.getByRole("button", { name: "Add parameter", exact: true }).click();
  await editor.getByLabel("Parameter 1", { exact: true }).fill("id");
  await editor.getByRole("combobox", { name: "Type 1", exact: true }).click();
  await page.getByRole("option", { name: "int", exact: true }).click();
  await editor.getByLabel("Required 1", { exact: true }).check();
  await editor.getByLabel("Example 1", { exact: true }).fill("1");

  // API1: the first node (the workflow is empty), calls customer_by_id with ${START.id}, and maps
  // its result with JSONPath.
  log("API node");
  await editor.getByRole("button", { name: "Add API node" }).click();
  await page.getByTestId("rf__node-API1").waitFor();
  await select(/^API\b/, new RegExp(`^${CALLED} `));
  await panel.getByRole("button", { name: "Map parameter id" }).click();
  check((await panel.getByLabel("Node parameter value 1", { exact: true }).inputValue()) === "${START.id}", "mapping id from the request");
  await panel.getByRole("button", { name: "Add output field" }).click();
  await panel.getByLabel("Output field 1", { exact: true }).fill("user_id");
  await panel.getByLabel("Output value 1", { exact: true }).fill("$.data.rows[0].id");
  await panel.getByRole("button", { name: "Add output field" }).click();
  await panel.getByLabel("Output field 2", { exact: true }).fill("name");
  await panel.getByLabel("Output value 2", { exact: true }).fill("$.data.rows[0].name");

  // PYTHON1 follows the selected API1. First it names a function the library lacks: the server
  // refuses the draft (a 400 provoked on purpose), and the editor shows it on that node.
  log("Python function node, refused first");
  await editor.getByRole("button", { name: "Add Python function node" }).click();
  await page.getByTestId("rf__node-PYTHON1").waitFor();
  const fn = panel.getByLabel(/^Function\b/);
  await fn.fill("no_such_function");
  await fn.press("Tab");
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.getByTestId("rf__node-PYTHON1").locator('[data-error="true"]').waitFor({ timeout: 10_000 });
  const problem = await panel.getByTestId("wf-node-problem").innerText();
  check(/no_such_function/.test(problem), `the refusal shows in PYTHON1's panel: ${problem}`);
  check(/Node PYTHON1:/.test(await page.getByTestId("wf-problem").innerText()), "the alert above the graph names PYTHON1");
  log(`refused on PYTHON1: ${problem.replace(/\s+/g, " ").slice(0, 120)}`);

  // Fixed: its own function, inline, edited in the Python editor.
  log("Python function inline");
  await fn.fill("greet");
  await fn.press("Tab");
  await segment(panel, "Inline");
  const code = panel.getByRole("textbox", { name: "Python source of greet" });
  await code.click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(PYTHON);

  // SWITCH1 follows PYTHON1; END1 its first branch.
  log("switch and end nodes");
  await editor.getByRole("button", { name: "Add Switch node" }).click();
  await page.getByTestId("rf__node-SWITCH1").waitFor();
  await editor.getByRole("button", { name: "Add End node" }).click();
  await page.getByTestId("rf__node-END1").waitFor();
  await panel.getByRole("button", { name: "Add output field" }).click();
  await panel.getByLabel("Output field 1", { exact: true }).fill("branch");
  await panel.getByLabel("Output value 1", { exact: true }).fill("customer 1");
  await panel.getByRole("button", { name: "Add output field" }).click();
  await panel.getByLabel("Output field 2", { exact: true }).fill("user_id");
  await panel.getByLabel("Output value 2", { exact: true }).fill("$.user_id");
  await panel.getByRole("button", { name: "Add output field" }).click();
  await panel.getByLabel("Output field 3", { exact: true }).fill("greeting");
  await panel.getByLabel("Output value 3", { exact: true }).fill("${PYTHON1.greeting}");

  // END2, added with nothing selected, is connected by dragging from SWITCH1's handle.
  await page.locator(".react-flow__pane").click({ position: { x: 12, y: 12 } });
  await editor.getByRole("button", { name: "Add End node" }).click();
  await page.getByTestId("rf__node-END2").waitFor();
  await panel.getByRole("button", { name: "Add output field" }).click();
  await panel.getByLabel("Output field 1", { exact: true }).fill("branch");
  await panel.getByLabel("Output value 1", { exact: true }).fill("other customer");
  await panel.getByRole("button", { name: "Add output field" }).click();
  await panel.getByLabel("Output field 2", { exact: true }).fill("user_id");
  await panel.getByLabel("Output value 2", { exact: true }).fill("$.user_id");
  await page.waitForTimeout(400); // the graph refits to the new node
  await page.getByTestId("wf-graph").evaluate((graph) => graph.scrollIntoView({ block: "center" }));
  const from = await page.getByTestId("rf__node-SWITCH1").locator(".react-flow__handle.source").boundingBox();
  const to = await page.getByTestId("rf__node-END2").locator(".react-flow__handle.target").boundingBox();
  check(from && to, "handles of SWITCH1 and END2 are on screen");
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 8 });
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 8 });
  await page.mouse.up();
  await page.locator('[data-testid^="rf__edge-SWITCH1:branch:1"]').waitFor({ timeout: 5_000 });

  // The switch's conditions, on the previous node's output.
  await page.getByTestId("rf__node-SWITCH1").click();
  await panel.getByLabel("Condition 1", { exact: true }).fill("$.user_id == 1");
  await panel.getByLabel("Condition 2", { exact: true }).fill("$.user_id != 1");
  const branch2 = await panel.getByRole("combobox", { name: "Branch 2 leads to", exact: true }).inputValue();
  check(branch2.startsWith("END2"), `branch 2 leads to END2 (${branch2})`);

  // Nothing left to finish; saved.
  const finished = await editor.getByTestId("wf-hint-count").innerText();
  if (!/Complete/.test(finished)) {
    await page.locator(".react-flow__pane").click({ position: { x: 12, y: 12 } });
    check(false, `the editor sees something left to finish: ${finished}: ${await page.getByTestId("wf-hints").innerText()}`);
  }
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.getByText("Draft saved").first().waitFor({ timeout: 10_000 });
  await page.getByTestId("wf-problem").waitFor({ state: "detached", timeout: 5_000 });
  const saved = await ctx.api("GET", `/workgroups/${WG}/apis/${id}`);
  const draft = saved.draft;
  check(draft.mode === "workflow" && draft.start === "API1", `draft starts at API1: ${JSON.stringify(draft).slice(0, 300)}`);
  const byId = Object.fromEntries(draft.nodes.map((n) => [n.id, n]));
  check(byId.API1?.api === CALLED && byId.API1.output?.user_id === "$.data.rows[0].id" && byId.API1.params?.id === "${START.id}", "API1 as built");
  check(byId.PYTHON1?.function === "greet" && /greeting/.test(draft.functions?.greet ?? ""), "PYTHON1 calls greet, carried inline");
  check(byId.SWITCH1?.branches?.length === 2 && byId.SWITCH1.branches[1].next === "END2", "SWITCH1's branches");
  check(draft.requestParams?.[0]?.name === "id" && draft.requestParams[0].type === "int", "request parameter id");
  log(`draft saved: ${draft.nodes.map((n) => n.id).join(" → ")}`);
  // The notifications go before the picture.
  await page.locator(".mantine-Notification-root").first().waitFor({ state: "detached", timeout: 8_000 }).catch(() => {});
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot("workflow-editor");

  // Test tab: run with id=1 against the environment where customer_by_id is published.
  log(`test run (environment ${environment})`);
  await page.getByRole("tab", { name: "Test", exact: true }).click();
  if (environment !== "test") {
    await page.getByRole("combobox", { name: "Environment", exact: true }).click();
    await page.getByRole("option", { name: environment, exact: true }).click();
  }
  await page.getByLabel("id", { exact: true }).fill("1");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const status = page.getByTestId("test-status");
  await status.waitFor({ timeout: 20_000 });
  const statusText = (await status.innerText()).trim();
  const json = (await page.getByTestId("test-json").textContent().catch(() => "")) ?? "";
  check(statusText === "200 OK", `the run answers 200 OK, not ${statusText}: ${json.slice(0, 400)}`);
  const result = JSON.parse(json);
  check(result?.branch === "customer 1" && result.user_id === 1 && /^hello, /.test(result.greeting ?? ""), `the answer: ${json}`);
  await page.getByRole("tab", { name: "Node trace" }).click();
  const trace = page.getByTestId("test-trace");
  await trace.waitFor();
  const rows = await trace.locator("tbody tr").allInnerTexts();
  const ran = rows.map((r) => r.split(/\s+/)[0]);
  for (const node of ["API1", "PYTHON1", "SWITCH1", "END1"]) check(ran.includes(node), `the trace shows ${node}: ${ran.join(", ")}`);
  check(!ran.includes("END2"), "END2 did not run");
  log(`answer ${JSON.stringify(result)}; trace ${ran.join(" → ")}`);
  await shot("workflow-test");
  log(`seed-001 walk done in ${((Date.now() - begun) / 1000).toFixed(1)} s`);
}
