"""bench/results/latest.md and latest.json: the table, the targets, the machine and the peers'
versions, and how busy the machine was with other work during the run."""
import json
import os
import platform
import time

from common import BENCH, CORES, log

RESULTS = os.path.join(BENCH, "results")

# (scenario, key, comparison, bound, what) — the targets of the benchmark issue.
TARGETS = [
    ("D1", "vs_postgrest", ">=", 10.0, "D1 ≥ 10× PostgREST"),
    ("D1", "vs_reference", ">=", 1.0, "D1 ≥ 1.0× the reference service"),
    ("D1", "vs_pgbench", ">=", 0.6, "D1 ≥ 0.6× pgbench"),
    ("D2", "vs_postgrest", ">=", 5.0, "D2 ≥ 5× PostgREST"),
    ("D4", "vs_nginx", ">=", 0.4, "D4 ≥ 0.4× nginx serving the same bytes"),
    ("C1", "vs_nginx", ">=", 0.8, "C1 cache hit ≥ 0.8× nginx serving the same bytes"),
    ("C1", "hit_pct_after", "report", None, "C1 share of sampled calls answered from the cache after the runs, % (reported)"),
    ("P1", "vs_nginx", ">=", 1.0, "P1 ≥ 1.0× nginx as a proxy"),
    ("P1", "cpu_us_per_hop", "<=", 15.0, "P1 ≤ 15 µs CPU per hop"),
    ("P1", "upstream_reuse_pct", ">=", 99.9, "P1 ≥ 99.9 % upstream connection reuse"),
    ("P1", "validation_on_vs_off", ">=", 0.95, "P1 with schema validation on ÷ off ≥ 0.95 (checks cost ≤ 5 %)"),
    ("P1", "validation_cpu_us", "report", None, "P1 CPU µs per call that schema validation costs (reported)"),
    ("P2", "vs_no_auth", ">=", 0.95, "P2 ≥ 0.95 (auth + limiter cost ≤ 5 %)"),
    ("P4", "vs_records_off", ">=", 0.97, "P4 ≥ 0.97 (call records + metrics cost ≤ 3 %)"),
    ("P4", "records_per_s", "report", None, "P4 call records written per second at D1's load (reported)"),
    ("P4", "record_cpu_us", "report", None, "P4 CPU µs per call that records cost (reported)"),
    ("P3", "vs_limit_half", "within", 0.05, "P3 at 0.5×: admitted ÷ offered = 1 ± 5 %"),
    ("P3", "vs_limit_2x", "within", 0.05, "P3 at 2×: admitted ÷ limit = 1 ± 5 %"),
    ("P3", "vs_limit_10x", "within", 0.05, "P3 at 10×: admitted ÷ limit = 1 ± 5 %"),
    ("P3c", "vs_limit_2x", "within", 0.05, "P3c (three nodes, one Redis) at 2×: admitted ÷ limit = 1 ± 5 %"),
    ("P3c", "vs_limit_10x", "within", 0.05, "P3c (three nodes, one Redis) at 10×: admitted ÷ limit = 1 ± 5 %"),
    ("W1", "cpu_us_per_node", "<=", 10.0, "W1 ≤ 10 µs CPU per node beyond the lookups"),
    ("W1", "vs_d1_third", ">=", 1.5, "W1 ≥ 1.5× (D1 ÷ 3)"),
    ("W2", "p50_ms", "<=", 21.0, "W2 p50 ≤ 21 ms (3 × 20 ms upstreams in parallel)"),
    ("W3", "cpu_us_per_call", "report", None, "W3 CPU µs per function call (reported)"),
]

PEER_LABEL = {"postgrest": "PostgREST", "reference": "reference (axum + tokio-postgres)",
              "pgbench": "pgbench (prepared SELECT)", "sysbench": "sysbench oltp_point_select",
              "nginx": "nginx", "no_auth": "Sluice, no auth, no limiter", "records_off": "Sluice, call records off", "direct": "upstream, direct",
              "validate": "Sluice, 3 query parameters, schema validation on",
              "validate_off": "Sluice, the same API, validation off"}
TITLES = {
    "D1": "PostgreSQL point lookup, app key + token, QPS limit",
    "D2": "PostgreSQL list, city = X, limit 50",
    "D3": "MariaDB point lookup",
    "D4": "SQLite point lookup (peer: nginx, static JSON of the same size)",
    "C1": "cache hit of D1's lookup (peer: nginx, static JSON of the same size)",
    "P1": "registered API → nginx upstream (peer: nginx as a proxy)",
    "P2": "D1 ÷ D1 without auth and limiter",
    "P4": "D1 with call records and metrics ÷ D1 with them off",
}


def judge(results):
    rows = []
    for scenario, key, op, bound, what in TARGETS:
        if scenario not in results:  # left out with --only
            continue
        value = results[scenario].get(key)
        if value is None or op == "report":
            met = None
        elif op == ">=":
            met = value >= bound
        elif op == "<=":
            met = value <= bound
        else:
            met = abs(value - 1.0) <= bound
        rows.append({"scenario": scenario, "metric": key, "target": what, "value": value, "met": met,
                     **({"reported": True} if op == "report" else {})})
    return rows


def met_label(t, yes, no):
    if t.get("reported"):
        return "reported"
    return "skipped" if t["met"] is None else (yes if t["met"] else no)


def f(value, digits=2):
    if value is None:
        return "—"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def write(mode, results, machine, settings, skipped, load_info, started, elapsed, name="latest"):
    os.makedirs(RESULTS, exist_ok=True)
    targets = judge(results)
    doc = {
        "mode": mode,
        "started": started,
        "elapsed_s": round(elapsed, 1),
        "scenarios": results,
        "targets": targets,
        "skipped": skipped,
        "machine": machine,
        "settings": settings,
        "load": load_info,
    }
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as out:
        json.dump(doc, out, indent=2, sort_keys=False, default=float)
        out.write("\n")
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as out:
        out.write(markdown(doc))
    log(f"wrote {os.path.relpath(RESULTS)}/{name}.md and {name}.json")
    return doc


def markdown(doc):
    r, lines = doc["scenarios"], []
    add = lines.append
    add(f"# Sluice benchmark — {doc['mode']} run, {doc['started']}")
    add("")
    add("Generated by `./bench/run"
        + ("" if doc["mode"] == "full" else f" --{doc['mode']}") + "`; how it measures: [bench/README.md](../README.md). "
        f"Each side ran {doc['settings']['rounds']} × {doc['settings']['seconds']} s, alternating with its peers; "
        "figures are medians (throughput: median, min–max). Ratios are Sluice's throughput ÷ the peer's.")
    add("")
    add("## Targets")
    add("")
    add("| target | measured | met |")
    add("| --- | --- | --- |")
    for t in doc["targets"]:
        met = met_label(t, "yes", "**no**")
        add(f"| {t['target']} | {f(t['value'], 3)} | {met} |")
    add("")
    table = [sid for sid in ("D1", "D2", "D3", "D4", "C1", "P1", "P2", "P4") if sid in r]  # --only may leave all out
    if table:
        add("## Throughput and latency")
        add("")
        add("| scenario | side | req/s (min–max) | p50 ms | p99 ms | Sluice ÷ side | CPU µs per request | other load, cores |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for sid in table:
        sc = r.get(sid)
        if not sc:  # left out with --only
            continue
        if "sides" not in sc:
            add(f"| {sid} | — | skipped: {sc.get('skipped')} | | | | | |")
            continue
        for name, side in sc["sides"].items():
            label = "Sluice" if name == "sluice" else PEER_LABEL.get(name, name)
            if "skipped" in side:
                add(f"| {sid} | {label} | skipped: {side['skipped']} | | | | | |")
                continue
            vs = "" if name == "sluice" else f(sc.get(f"vs_{name}"), 2) + "×" if sc.get(f"vs_{name}") else ""
            cpu = ", ".join(f"{k} {f(v, 1)}" for k, v in side["cpu_us_per_req"].items())
            rps = f"{f(side['rps'])} ({f(side['rps_min'])}–{f(side['rps_max'])})"
            fail = f" ⚠ {side['failed_requests']} failed" if side.get("failed_requests") else ""
            title = f"{sid}: {TITLES[sid]}" if name == "sluice" else ""
            add(f"| {title} | {label} | {rps}{fail} | {f(side['p50_ms'], 3)} | {f(side['p99_ms'], 3)} | {vs} | {cpu} "
                f"| {f(side.get('other_cores'), 2)} |")
    if table:
        add("")
    p1 = r.get("P1", {})
    if "sides" in p1:
        add("## P1: the proxy hop")
        add("")
        add("| | Sluice | nginx |")
        add("| --- | --- | --- |")
        add(f"| added p50 over calling the upstream directly, ms | {f(p1['added_p50_ms'], 3)} | {f(p1['nginx_added_p50_ms'], 3)} |")
        add(f"| CPU per hop (the proxy process), µs | {f(p1['cpu_us_per_hop'], 1)} | {f(p1['nginx_cpu_us_per_hop'], 1)} |")
        add(f"| new upstream connections per 1,000 requests | {f(p1['upstream_conns_per_1000'], 3)} | {f(p1['nginx_upstream_conns_per_1000'], 3)} |")
        add(f"| upstream connection reuse, % | {f(p1['upstream_reuse_pct'], 3)} | {f(p1['nginx_upstream_reuse_pct'], 3)} |")
        add("")
    p3 = r.get("P3")
    if p3:
        add(f"## P3: limiter accuracy (limit {p3['limit_qps']} QPS, open loop with `oha -q`)")
        add("")
        add("| offered | offered req/s | admitted req/s | ratio | |")
        add("| --- | --- | --- | --- | --- |")
        for key, level in p3["levels"].items():
            runs = level["runs"]
            offered = sorted(x["offered_rps"] for x in runs)[len(runs) // 2]
            admitted = sorted(x["admitted_rps"] for x in runs)[len(runs) // 2]
            what = "admitted ÷ offered" if level["factor"] < 1 else "admitted ÷ limit"
            add(f"| {level['factor']}× | {f(offered, 1)} | {f(admitted, 1)} | {f(level['ratio'], 3)} | {what} |")
        add("")
    p3c = r.get("P3c")
    if p3c:
        add(f"## P3c: limiter accuracy across {p3c['nodes']} nodes sharing Redis (limit {p3c['limit_qps']} QPS)")
        add("")
        add("| offered | offered req/s | admitted req/s | ratio |")
        add("| --- | --- | --- | --- |")
        for key, level in p3c["levels"].items():
            runs = level["runs"]
            offered = sorted(x["offered_rps"] for x in runs)[len(runs) // 2]
            admitted = sorted(x["admitted_rps"] for x in runs)[len(runs) // 2]
            add(f"| {level['factor']}× | {f(offered, 1)} | {f(admitted, 1)} | {f(level['ratio'], 3)} |")
        add("")
    lines.extend(workflow_sections(r))
    if doc["skipped"]:
        add("## Skipped peers")
        add("")
        for name, why in doc["skipped"].items():
            add(f"- **{name}**: {why}")
        add("")
    m, load = doc["machine"], doc["load"]
    add("## Machine")
    add("")
    add(f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory']}; kernel {m['kernel']}")
    for name, version in m["versions"].items():
        add(f"- {name}: {version}")
    add("")
    add("## Other load on the machine")
    add("")
    add(f"- /proc/loadavg before: `{load['loadavg_before']}`; after: `{load['loadavg_after']}`")
    add(f"- Whole run: {f(load['elapsed_s'], 0)} s; the machine was busy {f(load['machine_busy_cores'], 2)} cores on "
        f"average, of which processes outside the benchmark used {f(load['other_cores'], 2)} cores.")
    add("- \"other load\" in the table above: CPU used during that side's runs by processes not involved in "
        "it (median of the runs, in cores of the machine's {0}); latest.json has it per run.".format(m["cores"]))
    if load.get("top_other"):
        add("- Processes outside the benchmark that used most CPU during the run: "
            + "; ".join(f"{name} {f(sec, 1)} s" for name, sec in load["top_other"]))
    add("")
    return "\n".join(lines)


def workflow_sections(r):
    lines = []
    add = lines.append
    w1, w3 = r.get("W1"), r.get("W3")
    if w1 or w3:
        add("## W1, W3: workflows through the edge (closed loop, alternating with D1 and W0)")
        add("")
        add("W0 is a workflow with no node (start → end, the same request and auth as D1). Sluice's process CPU per "
            "request gives W1's CPU per node beyond the lookups as (W1 − 3·D1 + 2·W0) ÷ 3 and W3's CPU per "
            "function call as W3 − W0 ([how](../README.md#workflows-w1w3)).")
        add("")
        add("| side | req/s (min–max) | p50 ms | p99 ms | Sluice CPU µs per request | PostgreSQL CPU µs per request |")
        add("| --- | --- | --- | --- | --- | --- |")
        sides = {}
        for sc in (w1, w3):
            if sc:
                sides.update(sc["sides"])
        labels = {"w1": "W1: 3 lookups in series", "d1": "D1: one lookup", "w0": "W0: empty workflow",
                  "w3": "W3: the seed's function"}
        for name in ("w1", "d1", "w0", "w3"):
            side = sides.get(name)
            if not side:
                continue
            cpu = side["cpu_us_per_req"]
            rps = f"{f(side['rps'])} ({f(side['rps_min'])}–{f(side['rps_max'])})"
            fail = f" ⚠ {side['failed_requests']} failed" if side.get("failed_requests") else ""
            add(f"| {labels[name]} | {rps}{fail} | {f(side['p50_ms'], 3)} | {f(side['p99_ms'], 3)} "
                f"| {f(cpu.get('sluice'), 1)} | {f(cpu.get('postgres'), 1)} |")
        add("")
        if w1:
            add(f"- W1: **{f(w1['cpu_us_per_node'], 1)} µs** CPU per node beyond the lookups (a node's whole "
                f"cost, lookup included: {f(w1['cpu_us_per_node_gross'], 1)} µs); throughput ÷ (D1 ÷ 3) = "
                f"**{f(w1['vs_d1_third'], 3)}**")
        if w3:
            add(f"- W3: **{f(w3['cpu_us_per_call'], 1)} µs** CPU per call of the seed's function")
        add("")
    w2 = r.get("W2")
    if w2:
        add(f"## W2: parallel workflow, 3 registered APIs whose upstream waits 20 ms (open loop, {w2['rate']}/s)")
        add("")
        add("| | p50 ms | p99 ms | req/s |")
        add("| --- | --- | --- | --- |")
        add(f"| W2 through Sluice | {f(w2['p50_ms'], 3)} | {f(w2['p99_ms'], 3)} | {f(w2['rps'], 1)} |")
        d = w2["sides"]["direct"]
        add(f"| the upstream, direct | {f(d['p50_ms'], 3)} | {f(d['p99_ms'], 3)} | {f(d['rps'], 1)} |")
        add("")
        add(f"- added p50 over one direct call: {f(w2['added_p50_ms'], 3)} ms; upstream calls per workflow call: "
            f"{f(w2['upstream_per_call'], 2)}; Sluice CPU per workflow call: "
            f"{f(w2['cpu_us_per_req'].get('sluice'), 1)} µs")
        add(f"- the upstream's own lateness (answer sent after 20 ms + this), median: "
            f"{f(w2.get('upstream_late_p50_ms'), 3)} ms under W2, {f(w2.get('direct_upstream_late_p50_ms'), 3)} ms "
            f"called directly")
        add("")
    return lines


def machine_info(versions):
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    return {"cpu": cpu, "cores": CORES, "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "kernel": platform.release(), "versions": versions}


def now():
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
