"""`./bench/run --smoke`: Sluice's side of every scenario, a few hundred requests each, sent by a
tiny stdlib client, each answer checked. No peer is installed and no ratio is judged; any
failed setup step or request stops the run with a message (exit code 1). P1's upstream is a
stdlib HTTP server here, in place of nginx."""
import http.client
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import BenchError, log
import fixtures
from load import ID_HIGH, ID_LOW

REQUESTS = 300
THREADS = 4


class Client:
    """Keep-alive HTTP/1.1 to one host, one connection per thread."""

    def __init__(self, base):
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.local = threading.local()

    def get(self, path, headers=None):
        conn = getattr(self.local, "conn", None)
        for attempt in (1, 2):
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                conn.request("GET", path, headers=headers or {})
                response = conn.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except (http.client.HTTPException, ConnectionError) as e:
                conn.close()
                conn = self.local.conn = None
                if attempt == 2:
                    raise BenchError(f"GET {path}: {e!r}")


def run_many(client, count, make_request, check, threads=THREADS):
    """Sends count requests from `threads` threads; check(request, status, headers, body)
    raises BenchError on a wrong answer. Returns the statuses seen."""
    failures, statuses, lock = [], {}, threading.Lock()
    todo = iter(range(count))

    def worker():
        while True:
            with lock:
                if failures or next(todo, None) is None:
                    return
            path, headers, expect = make_request()
            try:
                status, response_headers, body = client.get(path, headers)
                check(expect, status, response_headers, body)
            except BenchError as e:
                with lock:
                    failures.append(f"GET {path}: {e}")
                return
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise BenchError(failures[0])
    return statuses


def envelope(status, body, want=200):
    if status != want:
        raise BenchError(f"status {status}, expected {want}: {body[:300]!r}")
    try:
        doc = json.loads(body)
    except json.JSONDecodeError:
        raise BenchError(f"not JSON: {body[:300]!r}")
    if doc.get("code") != "OK" and want == 200:
        raise BenchError(f"code {doc.get('code')}: {body[:300]!r}")
    return doc


def check_user(expected_id, status, headers, body):
    rows = envelope(status, body)["data"]["rows"]
    if [tuple(r.values()) for r in rows] != [fixtures.row(expected_id)]:
        raise BenchError(f"expected user {expected_id}, got {rows}")


def user_lookup(prefix, headers):
    def make():
        i = random.randint(ID_LOW, ID_HIGH)
        return f"{prefix}/{i}", headers, i
    return make


# ------------------------------------------------------------------------------------------
# P1's upstream in smoke mode

class Upstream:
    """A stdlib HTTP/1.1 server answering /user.json, counting the connections it accepts."""

    def __init__(self, body):
        self.body, self.connections = body, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes

            def setup(self):
                super().setup()
                outer.connections += 1

            def do_GET(self):
                if self.path != "/user.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------

def run(sluice, upstream, limit_qps, delay):
    client = Client(sluice.edge)
    app = sluice.app_headers
    results = {}

    def step(name, what, fn):
        t0 = time.monotonic()
        statuses = fn()
        results[name] = statuses
        log(f"smoke {name}: {what}: {statuses} in {time.monotonic() - t0:.1f} s")

    # Authentication is really on for D1's API: no credentials, a wrong token.
    status, _, body = client.get("/pg/users/12345")
    envelope(status, body, want=401)
    status, _, body = client.get("/pg/users/12345", {**app, "Authorization": "Bearer sat_wrong"})
    envelope(status, body, want=401)

    step("D1", "PostgreSQL point lookups as the app",
         lambda: run_many(client, REQUESTS, user_lookup("/pg/users", app), check_user))

    def by_city():
        city = random.choice(fixtures.CITIES)
        return f"/pg/users?city={city}", app, city

    first_50 = {c: [i for i in range(1, 2000) if fixtures.city_of(i) == c][:50] for c in fixtures.CITIES}

    def check_city(city, status, headers, body):
        rows = envelope(status, body)["data"]["rows"]
        ids = [r["id"] for r in rows]
        if ids != first_50[city] or any(r["city"] != city for r in rows):
            raise BenchError(f"city {city}: got ids {ids[:5]}… ({len(ids)} rows)")

    step("D2", "PostgreSQL list by city, 50 rows",
         lambda: run_many(client, REQUESTS, by_city, check_city))
    step("D3", "MariaDB point lookups as the app",
         lambda: run_many(client, REQUESTS, user_lookup("/my/users", app), check_user))
    step("D4", "SQLite point lookups as the app",
         lambda: run_many(client, REQUESTS, user_lookup("/lite/users", app), check_user))

    def check_proxy(_, status, headers, body):
        if status != 200 or body != upstream.body:
            raise BenchError(f"status {status}, body {body[:200]!r} (expected the upstream's file)")

    before = upstream.connections
    step("P1", "registered API through to the upstream",
         lambda: run_many(client, REQUESTS, lambda: ("/proxy/user", {}, None), check_proxy))
    log(f"smoke P1: the upstream accepted {upstream.connections - before} connections for {REQUESTS} requests")
    # P1's validation sides: both pass the same query through; only the checked one refuses
    # a value its schema does not allow, before the upstream.
    for name, path in (("P1 validate", "/proxy/checked/user"), ("P1 validate_off", "/proxy/unchecked/user")):
        step(name, f"{path} with three query parameters",
             lambda path=path: run_many(client, REQUESTS, lambda: (f"{path}?{fixtures.P1_QUERY}", {}, None),
                                        check_proxy))
    status, _, body = client.get("/proxy/checked/user?id=7&lang=xx")
    if envelope(status, body, want=400).get("code") != "InvalidParameter.lang":
        raise BenchError(f"schema validation: expected InvalidParameter.lang, got {body[:300]!r}")
    status, _, body = client.get("/proxy/unchecked/user?id=7&lang=xx")
    if status != 200:
        raise BenchError(f"without validation lang=xx passes: status {status}, {body[:300]!r}")
    step("P2", "PostgreSQL point lookups, no auth, no limiter",
         lambda: run_many(client, REQUESTS, user_lookup("/pg/open/users", {}), check_user))

    # P3, below the limit: open loop at half the limit, one request at a time, never faster
    # than the rate (late sends are not caught up): every call is admitted.
    def paced():
        statuses, interval = {}, 2.0 / limit_qps
        lookup = user_lookup("/limited/users", {})
        next_at = time.monotonic()
        for _ in range(limit_qps):  # two seconds
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic()) + interval
            path, headers, i = lookup()
            status, h, body = client.get(path, headers)
            check_user(i, status, h, body)
            statuses[status] = statuses.get(status, 0) + 1
        return statuses

    step("P3 at 0.5x", f"{limit_qps // 2} calls/s against a limit of {limit_qps}/s", paced)

    # Above the limit: as fast as the client goes; the limiter refuses the excess with 429
    # Throttling.Api and Retry-After, and admits about limit x elapsed (+ its burst).
    def check_limited(i, status, headers, body):
        if status == 429:
            doc = envelope(status, body, want=429)
            if doc.get("code") != "Throttling.Api" or "retry-after" not in {k.lower() for k in headers}:
                raise BenchError(f"429 without Throttling.Api and Retry-After: {headers} {body[:200]!r}")
        else:
            check_user(i, status, headers, body)

    t0 = time.monotonic()
    statuses = run_many(client, REQUESTS, user_lookup("/limited/users", {}), check_limited)
    elapsed = time.monotonic() - t0
    admitted, allowed = statuses.get(200, 0), limit_qps * elapsed * 1.05 + limit_qps / 20 + 3
    log(f"smoke P3 over the limit: {statuses} in {elapsed:.2f} s (at most {allowed:.0f} may pass)")
    if statuses.get(429, 0) == 0 or admitted > allowed:
        raise BenchError(f"P3: {admitted} admitted in {elapsed:.2f} s with a limit of {limit_qps}/s")
    results["P3 over"] = statuses
    workflows(client, app, delay, step)
    return results


W_REQUESTS = 100  # W3 runs the Python function: fewer calls (the debug binary's interpreter is slow)
W2_CALLS = 20


def workflows(client, app, delay, step):
    """W0, W1, W3 and W2 (bench/conf/sluice.yaml): each answer checked; W2's calls must overlap."""
    status, _, body = client.get("/wf/users3/12345")  # the workflow needs the app, like D1
    envelope(status, body, want=401)

    def data_of(expected, status, body):
        data = envelope(status, body)["data"]
        if data != expected:
            raise BenchError(f"expected data {expected}, got {data}")

    def check_chain(i, status, headers, body):
        data_of(dict(zip(("id", "name", "age", "city"), fixtures.row(i))), status, body)

    def check_echo(i, status, headers, body):
        data_of({"id": i}, status, body)

    step("W1", "3 of D1's lookups in series as one workflow",
         lambda: run_many(client, REQUESTS, user_lookup("/wf/users3", app), check_chain))
    step("W0", "an empty workflow (start → end)",
         lambda: run_many(client, W_REQUESTS, user_lookup("/wf/noop", app), check_echo))
    step("W3", "the seed's Python function as the only node",
         lambda: run_many(client, W_REQUESTS, user_lookup("/wf/function", app), check_echo))

    # W2: three branches in parallel, each a registered API whose upstream waits 20 ms. The
    # answer joins the three; each call takes at least 20 ms and, in parallel, far less than
    # the 60 ms the three would take one after the other.
    def parallel():
        before, took, statuses = delay.requests, [], {}
        for _ in range(W2_CALLS):
            t0 = time.monotonic()
            status, _, body = client.get("/wf/slow3", app)
            took.append(time.monotonic() - t0)
            data_of({"a": "/a", "b": "/b", "c": "/c"}, status, body)
            statuses[status] = statuses.get(status, 0) + 1
        calls, took = delay.requests - before, sorted(took)
        median = took[len(took) // 2]
        log(f"smoke W2: median {median * 1000:.1f} ms, fastest {took[0] * 1000:.1f} ms, "
            f"{calls} upstream calls for {W2_CALLS} workflow calls")
        if calls != 3 * W2_CALLS:
            raise BenchError(f"W2: the upstream answered {calls} calls for {W2_CALLS} workflow calls, not 3 each")
        if took[0] < 0.020:
            raise BenchError(f"W2: a call took {took[0] * 1000:.1f} ms, less than the upstream's 20 ms")
        if median >= 0.050:
            raise BenchError(f"W2: median {median * 1000:.1f} ms: the branches did not run in parallel (3 × 20 ms)")
        return statuses

    step("W2", "a parallel workflow of 3 registered APIs whose upstream waits 20 ms", parallel)
