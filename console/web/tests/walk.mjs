// The console's browser tests: starts `sluice serve` (the binary given with --sluice) on
// loopback with a fresh data directory (the demo is created), drives Debian's Chromium
// headless with playwright-core through the seeds' paths (tests/walks/*.mjs), checks every
// main screen with axe-core and fails on any console error or policy violation. Screenshots
// and report.json (first-load bytes, API list render time) go to test-results/.
//
//   node tests/walk.mjs --sluice /path/to/sluice [--only seed-002] [--keep]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, readdirSync, openSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const results = join(here, "..", "test-results");
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const sluice = option("--sluice");
const only = option("--only");
const keep = args.includes("--keep");
if (!sluice) {
  console.error("usage: node tests/walk.mjs --sluice /path/to/sluice [--only NAME] [--keep]");
  process.exit(2);
}
const chromiumPath = process.env.SLUICE_CHROMIUM ?? "/usr/bin/chromium";

const log = (msg) => console.log(`[console] ${msg}`);

/** A free loopback port below the ephemeral range. */
async function freePort() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free port between 20000 and 32000");
}

async function waitFor(url, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${seconds} s`);
}

function psql(sql) {
  const r = spawnSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

async function main() {
  mkdirSync(results, { recursive: true });
  for (const f of readdirSync(results)) rmSync(join(results, f), { force: true, recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-console-"));
  const [edgePort, adminPort] = [await freePort(), await freePort()];
  const edgeUrl = `http://127.0.0.1:${edgePort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const out = openSync(join(results, "sluice.log"), "w");
  const server = spawn(sluice, ["serve"], {
    env: {
      ...process.env,
      SLUICE_DATA_DIR: dataDir,
      SLUICE_EDGE_ADDR: `127.0.0.1:${edgePort}`,
      SLUICE_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
      SLUICE_RELOAD_INTERVAL_MS: "100",
      // The walks' PostgreSQL datasource is on loopback, which the network policy refuses.
      SLUICE_SSRF_ALLOW: "127.0.0.1",
      RUST_LOG: "warn",
    },
    stdio: ["ignore", out, out],
  });
  const stopServer = () => {
    if (server.exitCode === null) server.kill("SIGTERM");
  };
  process.on("exit", stopServer);
  const failures = [];
  const report = { screens: {}, walks: {}, axe: {}, consoleErrors: [], refusals: [] };
  let browser;
  try {
    await waitFor(`${adminUrl}/admin/v1/health`, 60);
    const adminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
    const api = async (method, path, body, token = adminToken) => {
      const r = await fetch(`${adminUrl}/admin/v1${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const envelope = await r.json().catch(() => null);
      if (!r.ok || !envelope?.success) throw new Error(`${method} ${path}: ${r.status} ${envelope?.code} ${envelope?.message}`);
      return envelope.data;
    };
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
    const consoleUrl = `${adminUrl}/console`;
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    // Every console error is a failure, but a 4xx a walk provokes on purpose is the browser
    // reporting the answer: those are listed, not failed.
    const expected4xx = /Failed to load resource: the server responded with a status of 4\d\d/;
    const watch = (p, who) => {
      p.on("console", (msg) => {
        if (msg.type() !== "error") return;
        const text = msg.text();
        if (expected4xx.test(text)) report.consoleErrors.push({ who, expected: true, text });
        else {
          report.consoleErrors.push({ who, expected: false, text });
          failures.push(`console error (${who}): ${text}`);
        }
      });
      p.on("pageerror", (e) => failures.push(`page error (${who}): ${e.message}`));
      // Which answers were refusals, to read beside the browser's "Failed to load" lines.
      p.on("response", (r) => {
        if (r.status() >= 400) report.refusals.push({ who, status: r.status(), url: r.url().replace(adminUrl, "") });
      });
    };
    watch(page, "admin");

    // First load: every script the sign-in page needs, as transferred (compressed).
    const scripts = [];
    page.on("response", async (response) => {
      if (response.request().resourceType() !== "script") return;
      try {
        const sizes = await response.request().sizes();
        scripts.push({ url: response.url(), bytes: sizes.responseBodySize, encoding: response.headers()["content-encoding"] ?? "identity" });
      } catch {
        /* the page moved on */
      }
    });
    const loadStart = Date.now();
    await page.goto(`${consoleUrl}/`);
    await page.getByLabel("User token").waitFor();
    report.firstLoad = { ms: Date.now() - loadStart, scripts: [...scripts], jsBytes: scripts.reduce((n, s) => n + s.bytes, 0) };
    let shotIndex = 0;
    /** Closes the corner notices so they do not cover the screen being shot. */
    const quiet = async (p) => {
      for (const close of await p.locator(".mantine-Notification-closeButton").all()) await close.click().catch(() => {});
      await p.locator(".mantine-Notification-root").first().waitFor({ state: "detached", timeout: 2000 }).catch(() => {});
    };
    const shot = async (name) => {
      await quiet(page);
      shotIndex += 1;
      const file = join(results, `${String(shotIndex).padStart(2, "0")}-${name}.png`);
      await page.screenshot({ path: file });
      report.screens[name] = file;
    };
    await shot("sign-in");
    await page.getByLabel("User token").fill(adminToken);
    const signIn = Date.now();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("api-list").locator("tbody tr").first().waitFor();
    report.apiListMs = Date.now() - signIn;
    report.apiListRows = await page.getByTestId("api-list").locator("tbody tr").count();
    await shot("api-list");

    /** Goes to a console path inside the app (the token lives in memory: no reload). */
    const go = async (path) => {
      await page.evaluate((to) => {
        window.history.pushState({}, "", to);
        window.dispatchEvent(new PopStateEvent("popstate"));
      }, `/console${path}`);
    };
    /** Another person signed in, in a browser context of their own. */
    const openSession = async (token, who) => {
      const other = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" })).newPage();
      other.setDefaultTimeout(15000);
      watch(other, who);
      await other.goto(`${consoleUrl}/`);
      await other.getByLabel("User token").fill(token);
      await other.getByRole("button", { name: "Sign in" }).click();
      await other.locator("main h2").first().waitFor();
      const goOther = async (path) => {
        await other.evaluate((to) => {
          window.history.pushState({}, "", to);
          window.dispatchEvent(new PopStateEvent("popstate"));
        }, `/console${path}`);
      };
      return { page: other, go: goOther };
    };
    const shotOf = (p) => async (name) => {
      await quiet(p);
      shotIndex += 1;
      const file = join(results, `${String(shotIndex).padStart(2, "0")}-${name}.png`);
      await p.screenshot({ path: file });
      report.screens[name] = file;
    };
    /** A new browser context with the console's listeners, not signed in. */
    const freshPage = async (who) => {
      const other = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" })).newPage();
      other.setDefaultTimeout(15000);
      watch(other, who);
      return other;
    };
    const ctx = { page, consoleUrl, adminUrl, edgeUrl, api, adminToken, shot, shotOf, log, go, psql, openSession, freshPage, expect: assert };

    const walks = readdirSync(join(here, "walks")).filter((f) => f.endsWith(".mjs") && f !== "common.mjs");
    // seed-002 builds what seed-000 shares: run in the order the seeds tell the story.
    walks.sort((a, b) => order(a) - order(b));
    for (const file of walks) {
      const name = file.replace(/\.mjs$/, "");
      if (only && !name.includes(only)) continue;
      const started = Date.now();
      log(`walk ${name}`);
      try {
        const { default: walk } = await import(join(here, "walks", file));
        await walk(ctx);
        report.walks[name] = { ok: true, ms: Date.now() - started };
      } catch (e) {
        report.walks[name] = { ok: false, ms: Date.now() - started, error: String(e?.stack ?? e) };
        failures.push(`walk ${name}: ${e?.message ?? e}`);
        // Every open page, whoever's it is: the walk may have failed in another context.
        let n = 0;
        for (const c of browser.contexts()) for (const p of c.pages()) await shotOf(p)(`failed-${name}-${++n}`).catch(() => {});
      }
    }

    // Accessibility of the main screens: no serious or critical axe-core violation.
    const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    const screens = {
      "api-list": "/w/demo/apis",
      "api-new": "/w/demo/apis/new",
      datasources: "/w/demo/datasources",
      folders: "/w/demo/folders",
      apps: "/w/demo/apps",
      members: "/w/demo/members",
      reports: "/w/demo/reports",
      marketplace: "/marketplace",
      approvals: "/approvals",
      workgroups: "/workgroups",
      users: "/users",
      platform: "/platform",
      "workgroup-settings": "/w/demo/settings",
      "management-api": "/docs",
    };
    for (const [name, path] of Object.entries(screens)) {
      await go(path);
      await page.waitForLoadState("networkidle");
      await page.locator("main h2").first().waitFor();
      // DevTools' evaluate is not page script: the policy does not apply to it.
      await page.evaluate(axeSource);
      const violations = await page.evaluate(async () => {
        const result = await window.axe.run(document, { resultTypes: ["violations"] });
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
      });
      report.axe[name] = violations;
      for (const v of violations.filter((v) => v.impact === "serious" || v.impact === "critical")) {
        failures.push(`axe ${name}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`);
      }
      if (!report.screens[name]) await shot(name);
    }

    // The other language: the same screen in Simplified Chinese.
    await go("/w/demo/apis");
    await page.locator("header label", { hasText: "中文" }).click();
    await page.getByRole("heading", { name: "API 列表" }).waitFor();
    await shot("api-list-zh");
    await page.locator("header label", { hasText: "EN" }).click();
  } catch (e) {
    failures.push(`harness: ${e?.stack ?? e}`);
    if (browser) {
      for (const c of browser.contexts()) for (const p of c.pages()) await p.screenshot({ path: join(results, `harness-failure-${Date.now()}.png`) }).catch(() => {});
    }
  } finally {
    if (browser) await browser.close();
    stopServer();
    writeFileSync(join(results, "report.json"), JSON.stringify({ ...report, failures }, null, 2));
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  }
  log(`first load: ${report.firstLoad?.jsBytes ?? "?"} bytes of JavaScript as sent (${report.firstLoad?.scripts.length ?? 0} scripts, ${report.firstLoad?.ms ?? "?"} ms)`);
  log(`API list after sign-in: ${report.apiListMs ?? "?"} ms (${report.apiListRows ?? 0} rows)`);
  for (const [name, w] of Object.entries(report.walks)) log(`walk ${name}: ${w.ok ? "passed" : "FAILED"} in ${w.ms} ms`);
  log(`screenshots: ${Object.keys(report.screens).length} in ${results}`);
  if (failures.length) {
    for (const f of failures) console.error(`[console] FAIL ${f}`);
    process.exit(1);
  }
  log("all browser checks passed");
}

function order(file) {
  const ranks = ["seed-002", "seed-001", "seed-000"];
  const i = ranks.findIndex((r) => file.startsWith(r));
  return i < 0 ? ranks.length : i;
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
