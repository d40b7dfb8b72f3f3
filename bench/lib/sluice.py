"""Sluice under test: the binary, `sluice serve` with a data dir of its own, the APIs applied from
bench/conf/sluice.yaml, and an app granted the APIs that need one, with a token."""
import json
import os
import secrets
import shutil
import re

from common import BENCH, POOL, ROOT, RUN, BenchError, Service, free_port, http, log, sh, wait_until
import fixtures
import peers

WORKGROUP = "bench"
# authMode: app
APP_APIS = ["pg_user", "pg_users_by_city", "my_user", "lite_user", "wf_users3", "wf_lite3", "wf_noop", "wf_function", "wf_slow3"]
LIMIT_QPS = 500  # P3's limit (smoke mode uses a lower one)
# One edge thread: the load generator and the databases share the machine (bench/README.md).
EDGE_THREADS = "1"


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def binary(profile):
    """The sluice binary of this profile (`release` or `debug`), built when it is missing or
    older than the sources (cargo decides: it does nothing when up to date)."""
    args = ["cargo", "build", "--locked", "-p", "sluice", "--bin", "sluice"]
    if profile == "release":
        args.insert(2, "--release")
    try:
        peers.ensure_cmake()
    except peers.Skipped as e:
        raise BenchError(f"cannot build sluice: {e}")
    log(f"building sluice ({profile}; target dir {target_dir()})")
    sh(args, capture=False, cwd=ROOT)
    path = os.path.join(target_dir(), profile, "sluice")
    if not os.path.exists(path):
        raise BenchError(f"cargo built no {path}")
    return path


def render(text, values):
    """The definitions with `${name}` placeholders filled in. Only the bench's own lower-case
    names are placeholders: workflow references (`${START.id}`, `$.data`) stay as they are."""
    def fill(m):
        if m.group(1) not in values:
            raise BenchError(f"bench/conf/sluice.yaml: unknown placeholder {m.group(0)}")
        return str(values[m.group(1)])
    return re.sub(r"\$\{([a-z_]+)\}", fill, text)


class Sluice:
    def __init__(self, exe, upstream_port, limit_qps=LIMIT_QPS, serve_prefix=(), delay_port=None,
                 name="sluice", extra_env=None):
        self.exe = exe
        # W2's upstream (bench/lib/delay.py); without one (--instructions) its APIs point at the
        # discard port and W2 is not served.
        self.delay_port = delay_port
        self.serve_prefix = list(serve_prefix)  # runs `sluice serve` under this (valgrind)
        self.limit_qps = limit_qps
        self.name = name
        self.data_dir = os.path.join(RUN, name)
        shutil.rmtree(self.data_dir, ignore_errors=True)  # a new store every run
        os.makedirs(self.data_dir)
        self.edge_port, self.admin_port = free_port(), free_port()
        self.admin_token = "slt_bench_" + secrets.token_hex(16)
        self.env = dict(
            os.environ,
            SLUICE_DATA_DIR=self.data_dir,
            SLUICE_DEMO="false",
            SLUICE_ADMIN_TOKEN=self.admin_token,
            SLUICE_EDGE_ADDR=f"127.0.0.1:{self.edge_port}",
            SLUICE_ADMIN_ADDR=f"127.0.0.1:{self.admin_port}",
            SLUICE_SSRF_ALLOW="127.0.0.1",
            # The SQLite fixture sits in the run directory: a dataset root of the bench workgroup.
            SLUICE_DATASET_ROOTS=f"{WORKGROUP}={RUN}",
            SLUICE_SHUTDOWN_TIMEOUT_SECS="1",  # nothing to drain when the run is over
            SLUICE_THREADS=EDGE_THREADS,
            # The scenarios measure the path to the database and upstreams; the result cache
            # (on by default for data and workflow APIs) is off for them.
            SLUICE_CACHE_MAX_BYTES="0",
            RUST_LOG="warn",
        )
        self.env.update(extra_env or {})  # may turn the cache back on (C1)
        self.upstream_port = upstream_port
        self.service = None
        self.app_key = self.app_token = None

    @property
    def edge(self):
        return f"http://127.0.0.1:{self.edge_port}"

    @property
    def pid(self):
        return self.service.pid

    def start(self):
        # Run from an empty directory so that no conf/sluice.toml is picked up.
        self.service = Service(self.name, [*self.serve_prefix, self.exe, "serve"], env=self.env, cwd=self.data_dir)
        health = f"http://127.0.0.1:{self.admin_port}/admin/v1/health"
        wait_until("sluice serve", lambda: http("GET", health, timeout=2)[0] == 200, timeout=60, proc=self.service)
        return self

    def stop(self):
        if self.service:
            self.service.stop()

    def apply(self):
        values = {"pool": POOL, "sqlite_path": fixtures.SQLITE_PATH, "upstream_port": self.upstream_port,
                  "delay_port": self.delay_port or 9, "limit_qps": self.limit_qps}
        text = render(open(os.path.join(BENCH, "conf", "sluice.yaml")).read(), values)
        conf_dir = os.path.join(RUN, "conf")
        os.makedirs(conf_dir, exist_ok=True)
        path = os.path.join(conf_dir, "sluice.yaml")
        with open(path, "w") as f:
            f.write(text)
        sh([self.exe, "apply", "-f", path], env=self.env, cwd=self.data_dir)

    def admin(self, method, path, body=None, expect=(200, 201)):
        url = f"http://127.0.0.1:{self.admin_port}/admin/v1/workgroups/{WORKGROUP}{path}"
        status, _, raw = http(method, url, body, {"Authorization": f"Bearer {self.admin_token}"})
        if status not in expect:
            raise BenchError(f"admin {method} {path}: {status} {raw[:500]!r}")
        return json.loads(raw)["data"]

    def api_id(self, name):
        items = self.admin("GET", f"/apis?name={name}&pageSize=100")["items"]
        for item in items:
            if item["name"] == name:
                return item["id"]
        raise BenchError(f"API {name} was not applied")

    def create_app(self):
        """An app granted every authMode: app API, and a token for it (one day)."""
        app = self.admin("POST", "/apps", {"name": "bench_caller", "description": "bench/run"})
        for name in APP_APIS:
            self.admin("POST", f"/apis/{self.api_id(name)}/grants", {"appId": app["id"]})
        token = self.admin("POST", f"/apps/{app['id']}/tokens", {"ttlSecs": 86400})
        self.app_key, self.app_token = app["appKey"], token["token"]

    @property
    def app_headers(self):
        return {"X-Sluice-App-Key": self.app_key, "Authorization": f"Bearer {self.app_token}"}

    def wait_ready(self):
        """The edge serves what apply wrote within its reload interval: wait for every API."""
        checks = [
            ("/pg/users/1", self.app_headers), ("/pg/open/users/1", {}), ("/pg/users?city=Rome", self.app_headers),
            ("/my/users/1", self.app_headers), ("/lite/users/1", self.app_headers), ("/limited/users/1", {}),
        ]
        if not self.serve_prefix:  # --instructions (under callgrind) counts no workflow
            checks += [("/wf/users3/1", self.app_headers), ("/wf/noop/1", self.app_headers),
                       ("/wf/function/1", self.app_headers)]
        if self.delay_port:
            checks.append(("/wf/slow3", self.app_headers))
        for path, headers in checks:
            wait_until(f"the edge to serve {path}",
                       lambda: http("GET", self.edge + path, headers=headers, timeout=5)[0] == 200,
                       timeout=15, proc=self.service)

    def setup(self):
        log(f"starting {self.name} ({self.exe}) on edge :{self.edge_port}, admin :{self.admin_port}")
        self.start()
        self.apply()
        self.create_app()
        self.wait_ready()
        return self
