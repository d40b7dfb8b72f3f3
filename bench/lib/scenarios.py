"""The scenarios of `./bench/run` (full) and `./bench/run --quick`: each side of a scenario (Sluice
first, then its peers) runs in turn, A B C A B C …, for a number of rounds; every run records
requests per second, p50 and p99 latency and the CPU microseconds per request of each process
involved. Medians, with min and max of the throughput, go to the report."""
import os
import statistics
import time

from common import CORES, POOL, BenchError, CpuMeter, Watch, http, log
import fixtures
import load
import peers

CONNECTIONS = 32  # oha connections, the same for Sluice and its peer
ID = load.OHA_ID_REGEX
CITY = "(" + "|".join(fixtures.CITIES) + ")"
P1_QUERY = fixtures.P1_QUERY


class Side:
    """One contender: how to load it (a function of the run's seconds) and what to watch."""

    def __init__(self, name, run, watches, skipped=None, warm=True):
        self.name, self.run, self.watches, self.skipped, self.warm = name, run, watches, skipped, warm
        self.samples = []


def http_side(ctx, name, url, watches, headers=None, regex=True):
    return Side(name, lambda seconds: load.oha(ctx.oha, url, seconds, CONNECTIONS, headers, regex=regex), watches)


def skipped_side(name, reason):
    return Side(name, None, [], skipped=reason)


def measure(side, seconds, extra=None):
    """One run of a side: the load generator's sample plus CPU per request of each process."""
    meter = CpuMeter(side.watches)
    before = extra.before() if extra else None
    meter.start()
    sample = side.run(seconds)
    cpu = meter.stop()
    if extra:
        sample.update(extra.after(before, sample))
    requests = max(sample["ok"], 1)
    tracked = sum(cpu["cpu_s"].values()) + sample["load_cpu_s"]
    sample["cpu_us_per_req"] = {name: s * 1e6 / requests for name, s in cpu["cpu_s"].items()}
    sample["cpu_us_per_req"]["load generator"] = sample["load_cpu_s"] * 1e6 / requests
    # What the rest of the machine used meanwhile, in cores (busy time not of these processes).
    sample["other_cores"] = max(0.0, cpu["machine_busy_s"] - tracked) / cpu["wall_s"]
    sample["machine_busy_cores"] = cpu["machine_busy_s"] / cpu["wall_s"]
    return sample


def alternate(sides, rounds, seconds, warmup, extra=None):
    """Warms each side up once, then runs them in turn for `rounds` rounds."""
    live = [s for s in sides if not s.skipped]
    for side in live:
        if warmup and side.warm:  # pgbench and sysbench connect anew on every run anyway
            side.run(warmup)
    for r in range(rounds):
        for side in live:
            sample = measure(side, seconds, extra.get(side.name) if extra else None)
            side.samples.append(sample)
            if sample["bad"]:
                log(f"  {side.name}: {sample['bad']} requests failed or answered otherwise: "
                    f"{sample.get('statuses')} {sample.get('errors')}")
            log(f"  round {r + 1}/{rounds} {side.name:<10} {sample['rps']:>10.0f} req/s  "
                f"p50 {fmt(sample['p50_ms'])} ms  p99 {fmt(sample['p99_ms'])} ms")


def fmt(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(side):
    """Medians over the rounds (min and max for the throughput)."""
    if side.skipped:
        return {"skipped": side.skipped}
    s = side.samples
    out = {
        "rps": med([x["rps"] for x in s]),
        "rps_min": min(x["rps"] for x in s),
        "rps_max": max(x["rps"] for x in s),
        "p50_ms": med([x["p50_ms"] for x in s]),
        "p99_ms": med([x["p99_ms"] for x in s]),
        "cpu_us_per_req": {k: med([x["cpu_us_per_req"][k] for x in s]) for k in s[0]["cpu_us_per_req"]},
        "other_cores": med([x["other_cores"] for x in s]),
        "failed_requests": sum(x["bad"] for x in s),
        "runs": [{k: x[k] for k in ("rps", "p50_ms", "p99_ms", "ok", "bad", "cpu_us_per_req", "other_cores")}
                 for x in s],
    }
    for key in ("new_upstream_conns", "upstream_requests", "conns_per_1000"):
        if key in s[0]:
            out[key] = med([x[key] for x in s])
    return out


C1_ID = "1[0-9]{3}"  # C1's ids: 1000-1999, every one cached before the runs
C1_KEYS = 1000


def c1_fill(sluice):
    """Stores every C1 id in the cache (each a MISS, then a HIT); returns a check for after the
    runs: the share of a sample of ids answered from the cache, in %."""
    def cache_state(i):
        status, headers, _ = http("GET", f"{sluice.edge}/pg/users/{i}", headers=sluice.app_headers)
        if status != 200:
            raise BenchError(f"C1: GET /pg/users/{i} answered {status}")
        return {k.lower(): v for k, v in headers.items()}.get("x-sluice-cache")
    for i in range(1000, 1000 + C1_KEYS):
        cache_state(i)
    missed = [i for i in range(1000, 1000 + C1_KEYS, 50) if cache_state(i) != "HIT"]
    if missed:
        raise BenchError(f"C1: ids {missed[:5]} were not answered from the cache after being stored")

    def hits_after():
        sample = range(1000, 1000 + C1_KEYS, 10)
        return 100.0 * sum(cache_state(i) == "HIT" for i in sample) / len(sample)
    return hits_after


def ratio(a, b):
    return a / b if a and b else None


class UpstreamConnections:
    """P1: connections and requests the upstream nginx accepted during one run."""

    def __init__(self, url):
        self.url = url

    def before(self):
        return peers.nginx_accepts(self.url)

    def after(self, before, sample):
        conns, reqs = peers.nginx_accepts(self.url)
        # The "before" probe's own connection and request are in these deltas: take them off.
        new, served = conns - before[0] - 1, reqs - before[1] - 1
        return {"new_upstream_conns": new, "upstream_requests": served,
                "conns_per_1000": 1000.0 * new / max(served, 1)}


# ------------------------------------------------------------------------------------------

SCENARIOS = ["D1", "D2", "D3", "D4", "C1", "P1", "P2", "P3", "P3C", "P4", "W1", "W2", "W3"]
W2_RATE = 50  # W2's open-loop rate, workflow calls per second (150 upstream calls per second)
W2_CONNECTIONS = 8  # enough for 50/s at 20 ms each, with room for a slow moment


def run_all(ctx, rounds, seconds, warmup, p3_rounds, p3_seconds, only=None):
    """ctx: sluice, oha, postgrest_url, reference_url, nginx urls and services, watches.
    only: the scenario ids to run (all when None)."""
    out = {}

    def want(sid):
        return only is None or sid in only
    sluice = ctx.sluice
    edge = esc(sluice.edge)
    pg = Watch("postgres", ctx.postgres_pid, only=f" {fixtures.DB} ")
    my = Watch("mariadb", ctx.mariadb_pid)
    sl = Watch("sluice", sluice.pid)

    def peer_or_skip(name, url, build):
        return skipped_side(name, ctx.skipped[name]) if name in ctx.skipped else build(url)

    # D1 -----------------------------------------------------------------------------------
    if want("D1"):
        log("D1: PostgreSQL point lookup by random id (app key + token, QPS limit above the load)")
        d1 = [
            http_side(ctx, "sluice", f"{edge}/pg/users/{ID}", [sl, pg], sluice.app_headers),
            peer_or_skip("postgrest", ctx.postgrest_url, lambda u: http_side(
                ctx, "postgrest", f"{esc(u)}/users[?]id=eq.{ID}", [Watch("postgrest", ctx.postgrest_pid), pg])),
            peer_or_skip("reference", ctx.reference_url, lambda u: http_side(
                ctx, "reference", f"{esc(u)}/users/{ID}", [Watch("reference", ctx.reference_pid), pg])),
            peer_or_skip("pgbench", None, lambda _: Side(
                "pgbench", lambda s: load.pgbench(ctx.pgbench, s, POOL, CORES), [pg], warm=False)),
        ]
        alternate(d1, rounds, seconds, warmup)
        out["D1"] = scenario(d1, "postgrest", "reference", "pgbench")

    # D2 -----------------------------------------------------------------------------------
    if want("D2"):
        log("D2: PostgreSQL list query, city = X, limit 50 (app key + token)")
        d2 = [
            http_side(ctx, "sluice", f"{edge}/pg/users[?]city={CITY}", [sl, pg], sluice.app_headers),
            peer_or_skip("postgrest", ctx.postgrest_url, lambda u: http_side(
                ctx, "postgrest", f"{esc(u)}/users[?]city=eq.{CITY}&order=id&limit=50",
                [Watch("postgrest", ctx.postgrest_pid), pg])),
        ]
        alternate(d2, rounds, seconds, warmup)
        out["D2"] = scenario(d2, "postgrest")

    # D3 -----------------------------------------------------------------------------------
    if want("D3"):
        log("D3: MariaDB point lookup (app key + token) vs sysbench oltp_point_select")
        d3 = [
            http_side(ctx, "sluice", f"{edge}/my/users/{ID}", [sl, my], sluice.app_headers),
            peer_or_skip("sysbench", None, lambda _: Side(
                "sysbench", lambda s: load.sysbench(ctx.sysbench, s, POOL), [my], warm=False)),
        ]
        alternate(d3, rounds, max(seconds, 1), warmup)
        out["D3"] = scenario(d3, "sysbench")

    # D4 -----------------------------------------------------------------------------------
    if want("D4"):
        log("D4: SQLite point lookup (app key + token) vs nginx serving a static JSON of the same size")
        d4 = [
            http_side(ctx, "sluice", f"{edge}/lite/users/{ID}", [sl], sluice.app_headers),
            peer_or_skip("nginx", ctx.static_url, lambda u: http_side(
                ctx, "nginx", f"{u}/user.json", [Watch("nginx", ctx.static_pid)], regex=False)),
        ]
        alternate(d4, rounds, seconds, warmup)
        out["D4"] = scenario(d4, "nginx")

    # C1 -----------------------------------------------------------------------------------
    if want("C1"):
        log(f"C1: cache hits of D1's lookup ({C1_KEYS} ids, cached beforehand) vs nginx serving the same bytes")
        cached = ctx.sluice_cache
        c1_hits = c1_fill(cached)
        c1 = [
            http_side(ctx, "sluice", f"{esc(cached.edge)}/pg/users/{C1_ID}", [Watch("sluice, cache on", cached.pid)],
                      cached.app_headers),
            peer_or_skip("nginx", ctx.static_url, lambda u: http_side(
                ctx, "nginx", f"{u}/user.json", [Watch("nginx", ctx.static_pid)], regex=False)),
        ]
        alternate(c1, rounds, seconds, warmup)
        out["C1"] = scenario(c1, "nginx")
        out["C1"]["keys"] = C1_KEYS
        out["C1"]["hit_pct_after"] = c1_hits()

    # P1 -----------------------------------------------------------------------------------
    if want("P1"):
        log("P1: registered API through to an nginx upstream vs nginx as a proxy (and the upstream direct)")
        if "nginx" in ctx.skipped:
            p1 = [skipped_side("sluice", ctx.skipped["nginx"])]
            out["P1"] = {"skipped": ctx.skipped["nginx"]}
        else:
            up = Watch("upstream nginx", ctx.static_pid)
            p1 = [
                http_side(ctx, "sluice", f"{sluice.edge}/proxy/user", [sl, up], regex=False),
                http_side(ctx, "nginx", f"{ctx.proxy_url}/proxy/user", [Watch("nginx", ctx.proxy_pid), up], regex=False),
                http_side(ctx, "direct", f"{ctx.static_url}/user.json", [up], regex=False),
                # The same API with and without its parameters' schemas checked (issue 22).
                http_side(ctx, "validate", f"{sluice.edge}/proxy/checked/user?{P1_QUERY}", [sl, up], regex=False),
                http_side(ctx, "validate_off", f"{sluice.edge}/proxy/unchecked/user?{P1_QUERY}", [sl, up],
                          regex=False),
            ]
            counter = UpstreamConnections(ctx.static_url)
            alternate(p1, rounds, seconds, warmup, extra={"sluice": counter, "nginx": counter})
            out["P1"] = p1_result(p1)

    # P2 -----------------------------------------------------------------------------------
    if want("P2"):
        log("P2: D1 with app auth and limiter vs the same lookup with neither")
        p2 = [
            http_side(ctx, "sluice", f"{edge}/pg/users/{ID}", [sl, pg], sluice.app_headers),
            http_side(ctx, "no_auth", f"{edge}/pg/open/users/{ID}", [sl, pg]),
        ]
        alternate(p2, rounds, seconds, warmup)
        out["P2"] = scenario(p2, "no_auth")

    # P4 -----------------------------------------------------------------------------------
    if want("P4"):
        log("P4: D1 with call records and metrics on vs a second Sluice with them off")
        off = ctx.sluice_off
        p4 = [
            http_side(ctx, "sluice", f"{edge}/pg/users/{ID}", [sl, pg], sluice.app_headers),
            http_side(ctx, "records_off", f"{esc(off.edge)}/pg/users/{ID}",
                      [Watch("sluice, records off", off.pid), pg], off.app_headers),
        ]
        alternate(p4, rounds, seconds, warmup)
        out["P4"] = p4_result(p4)

    # P3 -----------------------------------------------------------------------------------
    if want("P3"):
        out["P3"] = p3(ctx, p3_rounds, p3_seconds, edge)

    # P3c ----------------------------------------------------------------------------------
    if want("P3C"):
        out["P3c"] = p3c(ctx, p3_rounds, p3_seconds)

    # W1, W3 -------------------------------------------------------------------------------
    if want("W1") or want("W3"):
        out.update(w1_w3(ctx, rounds, seconds, warmup, sl, pg, edge, want("W1"), want("W3")))

    # W2 -----------------------------------------------------------------------------------
    if want("W2"):
        out["W2"] = w2(ctx, rounds, max(seconds, 2), warmup, sl)
    return out


def esc(url):
    """A URL as a regular expression for oha's --rand-regex-url: `?` as a character class.
    Dots stay as they are: oha escapes every `.` itself (so `\\.` would become a backslash and
    any character — another host)."""
    return url.replace("?", "[?]")


def scenario(sides, *peer_names):
    """Sluice's medians, vs_<peer> = Sluice's throughput ÷ the peer's, and every side's summary."""
    by_name = {s.name: summary(s) for s in sides}
    main = by_name["sluice"]
    result = {k: main.get(k) for k in ("rps", "rps_min", "rps_max", "p50_ms", "p99_ms", "cpu_us_per_req")}
    for peer in peer_names:
        result[f"vs_{peer}"] = ratio(main.get("rps"), by_name[peer].get("rps"))
    result["sides"] = by_name
    return result


def p4_result(sides):
    """P4: on ÷ off, the records written per second at D1's load (one per answered call) and
    the CPU they cost per call (Sluice's own CPU, on less off)."""
    result = scenario(sides, "records_off")
    by = result["sides"]
    result["records_per_s"] = by["sluice"].get("rps")
    on = (by["sluice"].get("cpu_us_per_req") or {}).get("sluice")
    off = (by["records_off"].get("cpu_us_per_req") or {}).get("sluice, records off")
    result["record_cpu_us"] = on - off if on is not None and off is not None else None
    return result


def p1_result(sides):
    result = scenario(sides, "nginx")
    by = result["sides"]
    # What checking three query parameters against their JSON Schemas costs: on ÷ off.
    result["validation_on_vs_off"] = ratio(by["validate"].get("rps"), by["validate_off"].get("rps"))
    on = (by["validate"].get("cpu_us_per_req") or {}).get("sluice")
    off = (by["validate_off"].get("cpu_us_per_req") or {}).get("sluice")
    result["validation_cpu_us"] = on - off if on is not None and off is not None else None
    direct_p50 = by["direct"]["p50_ms"]
    for name, prefix in (("sluice", ""), ("nginx", "nginx_")):
        side = by[name]
        hop = "sluice" if name == "sluice" else "nginx"
        result[f"{prefix}added_p50_ms"] = None if direct_p50 is None else side["p50_ms"] - direct_p50
        result[f"{prefix}cpu_us_per_hop"] = side["cpu_us_per_req"][hop]
        result[f"{prefix}upstream_conns_per_1000"] = side["conns_per_1000"]
        result[f"{prefix}upstream_reuse_pct"] = 100.0 - side["conns_per_1000"] / 10.0
    return result


def p3(ctx, rounds, seconds, edge):
    """Open loop (oha -q) at 0.5x, 2x and 10x of a 500 QPS limit: admitted ÷ limit (÷ offered
    at 0.5x, where everything should pass)."""
    from sluice import LIMIT_QPS
    log(f"P3: limiter accuracy, open loop at 0.5x, 2x and 10x of {LIMIT_QPS} QPS ({seconds} s each)")
    result, url = {"limit_qps": LIMIT_QPS, "levels": {}}, f"{edge}/limited/users/{ID}"
    for key, factor in (("half", 0.5), ("2x", 2), ("10x", 10)):
        offered = int(LIMIT_QPS * factor)
        runs = []
        for _ in range(rounds):
            s = load.oha(ctx.oha, url, seconds, CONNECTIONS, qps=offered, regex=True, ok_status=(200, 429))
            admitted = s["statuses"].get("200", 0) / s["seconds"]
            sent = s["ok"] / s["seconds"]
            runs.append({"offered_rps": sent, "admitted_rps": admitted, "seconds": s["seconds"],
                         "statuses": s["statuses"], "failed": s["bad"],
                         "ratio": (admitted / sent if sent else 0.0) if factor < 1 else admitted / LIMIT_QPS})
            log(f"  {factor:>4}x: offered {sent:.0f}/s, admitted {admitted:.1f}/s, ratio {runs[-1]['ratio']:.3f}")
        result["levels"][key] = {"factor": factor, "target_offered_rps": offered,
                                 "ratio": med([r["ratio"] for r in runs]), "runs": runs}
        result[f"vs_limit_{key}"] = result["levels"][key]["ratio"]
    return result


def p3c(ctx, rounds, seconds, nodes=3):
    """P3 across a cluster (docs/cluster.md): three Sluice nodes sharing a PostgreSQL store and a
    Redis of this run's own, the same 500 QPS API limit, open loop (oha -q) at 2x and 10x of it
    spread evenly over the three (one oha per node, at the same time): admitted ÷ limit."""
    import base64
    import threading
    from common import RUN, Service, free_port, which, wait_until, BenchError
    from sluice import LIMIT_QPS, Sluice
    redis_server = which("redis-server")
    if not redis_server:
        raise BenchError("redis-server is missing: run ./scripts/test once, or apt-get install redis-server")
    log(f"P3c: limiter accuracy across {nodes} nodes sharing Redis, open loop at 2x and 10x of {LIMIT_QPS} QPS "
        f"({seconds} s each)")
    db = f"{fixtures.DB}_cluster"
    fixtures.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", db="postgres")
    fixtures.psql(f"CREATE DATABASE {db}", db="postgres")
    redis_port = free_port()
    redis = Service("redis-p3c", [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"], cwd=RUN)
    wait_until("redis-server", lambda: peers_port_open(redis_port), timeout=10, proc=redis)
    shared = {
        "SLUICE_STORE_URL": f"postgres://{fixtures.PG['user']}@{fixtures.PG['host']}:{fixtures.PG['port']}/{db}",
        "SLUICE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SLUICE_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    base = ctx.sluice
    cluster = []
    try:
        first = Sluice(base.exe, base.upstream_port, delay_port=base.delay_port, name="sluice-p3c-1",
                       extra_env=shared)
        first.start()
        first.apply()
        first.create_app()
        cluster.append(first)
        for n in range(2, nodes + 1):
            node = Sluice(base.exe, base.upstream_port, delay_port=base.delay_port, name=f"sluice-p3c-{n}",
                          extra_env=shared).start()
            cluster.append(node)
        for node in cluster:
            wait_until(f"{node.name} to serve /limited/users/1",
                       lambda: http_status(node.edge + "/limited/users/1") == 200, timeout=15, proc=node.service)
        result = {"limit_qps": LIMIT_QPS, "nodes": nodes, "levels": {}}
        for key, factor in (("2x", 2), ("10x", 10)):
            offered = int(LIMIT_QPS * factor)
            runs = []
            for _ in range(rounds):
                time.sleep(1)  # the previous level's debt is paid
                samples = [None] * nodes

                def one(i):
                    url = f"{esc(cluster[i].edge)}/limited/users/{ID}"
                    samples[i] = load.oha(ctx.oha, url, seconds, CONNECTIONS // nodes, qps=offered // nodes,
                                          regex=True, ok_status=(200, 429))
                threads = [threading.Thread(target=one, args=(i,)) for i in range(nodes)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if any(s is None for s in samples):
                    raise BenchError("P3c: a load generator failed")
                span = max(s["seconds"] for s in samples)
                admitted = sum(s["statuses"].get("200", 0) for s in samples) / span
                sent = sum(s["ok"] for s in samples) / span
                statuses = {}
                for s in samples:
                    for code, count in s["statuses"].items():
                        statuses[code] = statuses.get(code, 0) + count
                runs.append({"offered_rps": sent, "admitted_rps": admitted, "seconds": span, "statuses": statuses,
                             "failed": sum(s["bad"] for s in samples), "ratio": admitted / LIMIT_QPS,
                             "admitted_per_node": [s["statuses"].get("200", 0) / s["seconds"] for s in samples]})
                log(f"  {factor:>4}x over {nodes} nodes: offered {sent:.0f}/s, admitted {admitted:.1f}/s, "
                    f"ratio {runs[-1]['ratio']:.3f}")
            result["levels"][key] = {"factor": factor, "target_offered_rps": offered,
                                     "ratio": med([r["ratio"] for r in runs]), "runs": runs}
            result[f"vs_limit_{key}"] = result["levels"][key]["ratio"]
        return result
    finally:
        for node in cluster:
            node.stop()
        redis.stop()


def peers_port_open(port):
    from common import port_open
    return port_open(port)


def http_status(url):
    from common import http
    return http("GET", url, timeout=5)[0]


# ------------------------------------------------------------------------------------------
# Workflows (issue 17)

def w1_w3(ctx, rounds, seconds, warmup, sl, pg, edge, with_w1=True, with_w3=True):
    """W1 (three of D1's lookups in series as one workflow) and W3 (the seed's Python function as
    a workflow's only node), alternating with D1 itself and W0, a workflow with no node, all
    closed loop like D1. Sluice's process CPU per request (as P1's cpu_us_per_hop) of each:

      W0 = E + w              E: the edge's work for any call (HTTP, auth, limiter, envelope),
      D1 = E + L              w: a workflow's fixed cost, L: one lookup's own work,
      W1 = E + w + 3 (L + n)  n: what a node costs beyond its own work
      W3 = E + w + F          F: one function call (the interpreter thread included)

    so n + w = (W1 − 3·D1 + 2·W0) ÷ 3 is reported as W1's CPU per node: the workflow's whole
    fixed cost is charged to every node, so it overstates n (also by whatever the workflow lane
    costs over D1's in-place lane). F = W3 − W0."""
    sluice, app = ctx.sluice, ctx.sluice.app_headers
    log("W1/W3: workflows over D1's lookup (3 API nodes in series) and the seed's function, with D1 and "
        "an empty workflow (W0) as baselines")
    sides = []
    if with_w1:
        sides += [http_side(ctx, "d1", f"{edge}/pg/users/{ID}", [sl, pg], app),
                  http_side(ctx, "w1", f"{edge}/wf/users3/{ID}", [sl, pg], app)]
    sides.append(http_side(ctx, "w0", f"{edge}/wf/noop/{ID}", [sl], app))
    if with_w3:
        sides.append(http_side(ctx, "w3", f"{edge}/wf/function/{ID}", [sl], app))
    alternate(sides, rounds, seconds, warmup)
    by = {s.name: summary(s) for s in sides}
    cpu = {name: side["cpu_us_per_req"]["sluice"] for name, side in by.items()}
    keys = ("rps", "rps_min", "rps_max", "p50_ms", "p99_ms", "cpu_us_per_req")
    out = {}
    if with_w1:
        w1 = {k: by["w1"].get(k) for k in keys}
        w1["vs_d1_third"] = ratio(by["w1"]["rps"], by["d1"]["rps"] / 3 if by["d1"]["rps"] else None)
        w1["cpu_us_per_node"] = (cpu["w1"] - 3 * cpu["d1"] + 2 * cpu["w0"]) / 3
        w1["sluice_cpu_us"] = {"W1": cpu["w1"], "D1": cpu["d1"], "W0": cpu["w0"]}
        # For scale: a node's whole cost, its lookup included ((W1 − W0) ÷ 3 = L + n).
        w1["cpu_us_per_node_gross"] = (cpu["w1"] - cpu["w0"]) / 3
        w1["sides"] = {k: by[k] for k in ("w1", "d1", "w0")}
        out["W1"] = w1
    if with_w3:
        w3 = {k: by["w3"].get(k) for k in keys}
        w3["cpu_us_per_call"] = cpu["w3"] - cpu["w0"]
        w3["sluice_cpu_us"] = {"W3": cpu["w3"], "W0": cpu["w0"]}
        w3["sides"] = {k: by[k] for k in ("w3", "w0")}
        out["W3"] = w3
    for name in ("W1", "W3"):
        if name in out:
            log(f"  {name}: " + ", ".join(f"{k} {fmt(v, 1)} µs" for k, v in out[name]["sluice_cpu_us"].items())
                + " of Sluice's CPU per request")
    if "W1" in out:
        log(f"  W1: {fmt(out['W1']['cpu_us_per_node'], 1)} µs CPU per node beyond the lookups, "
            f"throughput ÷ (D1 ÷ 3) = {fmt(out['W1']['vs_d1_third'], 3)}")
    if "W3" in out:
        log(f"  W3: {fmt(out['W3']['cpu_us_per_call'], 1)} µs CPU per function call")
    return out


class UpstreamCalls:
    """W2: calls the delaying upstream answered during one run (3 per workflow call)."""

    def __init__(self, delay):
        self.delay = delay

    def before(self):
        return self.delay.requests, len(self.delay.late_s)

    def after(self, before, sample):
        calls = self.delay.requests - before[0]
        late = sorted(self.delay.late_s[before[1]:])
        return {"upstream_requests": calls, "upstream_per_call": calls / max(sample["ok"], 1),
                "upstream_late_p50_ms": load.percentile(late, 50) * 1000 if late else None}


def w2(ctx, rounds, seconds, warmup, sl):
    """W2: a parallel node of three API nodes, each a registered API whose upstream waits 20 ms,
    open loop at a low fixed rate (oha -q); the upstream called directly at the same rate gives
    the floor. Target: the workflow's p50 ≤ 21 ms."""
    delay = ctx.delay
    log(f"W2: parallel workflow of 3 registered APIs whose upstream waits 20 ms, open loop at {W2_RATE}/s "
        f"({seconds} s per run), and the upstream direct")

    def open_loop(url, headers):
        return lambda s: load.oha(ctx.oha, url, s, W2_CONNECTIONS, headers, qps=W2_RATE)

    sides = [Side("sluice", open_loop(f"{ctx.sluice.edge}/wf/slow3", ctx.sluice.app_headers), [sl]),
             Side("direct", open_loop(f"{delay.url}/a", None), [])]
    counter = UpstreamCalls(delay)
    alternate(sides, rounds, seconds, warmup, extra={"sluice": counter, "direct": counter})
    by = {s.name: summary(s) for s in sides}
    main = by["sluice"]
    result = {k: main.get(k) for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
    result["rate"] = W2_RATE
    result["direct_p50_ms"] = by["direct"]["p50_ms"]
    result["direct_p99_ms"] = by["direct"]["p99_ms"]
    result["added_p50_ms"] = None if main["p50_ms"] is None or result["direct_p50_ms"] is None \
        else main["p50_ms"] - result["direct_p50_ms"]
    result["upstream_per_call"] = med([x["upstream_per_call"] for x in sides[0].samples])
    # The upstream's own lateness (sent this long after its 20 ms), median of its answers.
    result["upstream_late_p50_ms"] = med([x["upstream_late_p50_ms"] for x in sides[0].samples])
    result["direct_upstream_late_p50_ms"] = med([x["upstream_late_p50_ms"] for x in sides[1].samples])
    result["sides"] = by
    return result
