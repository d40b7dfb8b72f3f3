"""Instructions per request, counted by callgrind: the repeatable yardstick for the hot path.

Wall-clock figures on a shared 2-core machine move by ±10 % between runs; callgrind's count
of the instructions a process executes for the same requests moves by less than 0.2 % on a
quiet machine, so it shows what one change to the code saves (other load lowers it by a few
percent: more requests are served per wake-up, so compare counts taken alike). It counts user
space only (no kernel, no waiting): half or more of Sluice's CPU time per request on loopback
is the kernel's TCP, which this does not see.

Sluice (`sluice serve`), the reference service and the pingora floor (bench/pingora-floor) run
under `valgrind --tool=callgrind` with instrumentation off; for each scenario the count is
zeroed, switched on for a fixed number of requests from oha (4 connections), switched off and
dumped."""
import glob
import os
import re
import shutil
import subprocess
import time

from common import RUN, BenchError, http, log, which
import fixtures
import load
import peers

REQUESTS = 2000
CONNECTIONS = 4
WARMUP = 200


def callgrind_prefix(out_dir):
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out_dir}/callgrind.%p"]


def control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def dumped_total(out_dir, pid, before):
    """The instructions in the newest dump of `pid` that was not there before."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = sorted(set(glob.glob(f"{out_dir}/callgrind.{pid}.*")) - before, key=os.path.getmtime)
        if new:
            with open(new[-1]) as f:
                # `totals:` closes a complete dump (its `summary:` header may read 0).
                totals = [int(m.group(1)) for m in re.finditer(r"^totals:\s+(\d+)", f.read(), re.M)]
            if totals:
                return totals[-1]
        time.sleep(0.5)
    raise BenchError(f"callgrind wrote no dump for pid {pid} in {out_dir}")


def count(oha_exe, pid, out_dir, url, headers=None, regex=False):
    """Instructions per request of process `pid` serving REQUESTS requests of `url`."""
    load.oha(oha_exe, url, 600, CONNECTIONS, headers=headers, regex=regex, count=WARMUP)
    control(pid, "--zero")
    control(pid, "--instr=on")
    sample = load.oha(oha_exe, url, 600, CONNECTIONS, headers=headers, regex=regex, count=REQUESTS)
    control(pid, "--instr=off")
    if sample["bad"] or sample["ok"] != REQUESTS:
        raise BenchError(f"{url}: {sample['ok']} of {REQUESTS} answered as expected ({sample['statuses']})")
    before = set(glob.glob(f"{out_dir}/callgrind.{pid}.*"))
    control(pid, "--dump")
    return dumped_total(out_dir, pid, before) / REQUESTS


def run(exe, oha_exe, sluice_class, reference_exe, floor_exe, nginx):
    """Returns {scenario: instructions per request} for Sluice's D1 and P1, the reference's D1,
    and pingora's floor under each (a fixed answer on a bare session; a proxy without hooks)."""
    if not which("valgrind") or not which("callgrind_control"):
        peers.apt_install("valgrind")
    out_dir = os.path.join(RUN, "callgrind")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    fixtures.ensure_all()
    static_root = os.path.join(fixtures.RUN, "nginx-static", "root")
    _, static_url = peers.start_nginx(nginx, "nginx-static", peers.NGINX_STATIC, root=static_root)
    os.makedirs(static_root, exist_ok=True)
    upstream_port = int(static_url.rsplit(":", 1)[1])
    sluice = sluice_class(exe, upstream_port, serve_prefix=callgrind_prefix(out_dir)).setup()
    # P1's upstream body: a Sluice answer of D4, as in the full run.
    body = load_body(sluice.edge + "/lite/users/54321", sluice.app_headers)
    with open(os.path.join(static_root, "user.json"), "wb") as fh:
        fh.write(body)
    os.chmod(static_root, 0o755)
    ids = load.OHA_ID_REGEX
    results = {}
    log(f"D1: {REQUESTS} lookups through Sluice under callgrind")
    results["D1 sluice"] = count(oha_exe, sluice.pid, out_dir, f"{sluice.edge}/pg/users/{ids}",
                                 sluice.app_headers, regex=True)
    log(f"P1: {REQUESTS} proxied calls through Sluice under callgrind")
    results["P1 sluice"] = count(oha_exe, sluice.pid, out_dir, f"{sluice.edge}/proxy/user")
    sluice.stop()
    if reference_exe:
        service, url = peers.start_reference(reference_exe, prefix=callgrind_prefix(out_dir))
        log(f"D1: {REQUESTS} lookups through the reference service under callgrind")
        results["D1 reference"] = count(oha_exe, service.pid, out_dir, f"{url}/users/{ids}", regex=True)
        service.stop()
    if floor_exe:
        service, url = peers.start_floor(floor_exe, prefix=callgrind_prefix(out_dir))
        log(f"D1: {REQUESTS} fixed answers from bare pingora under callgrind")
        results["D1 pingora floor"] = count(oha_exe, service.pid, out_dir, f"{url}/users/{ids}", regex=True)
        service.stop()
        service, url = peers.start_floor(floor_exe, prefix=callgrind_prefix(out_dir), upstream=f"127.0.0.1:{upstream_port}")
        log(f"P1: {REQUESTS} calls through pingora's proxy without hooks under callgrind")
        results["P1 pingora floor"] = count(oha_exe, service.pid, out_dir, f"{url}/user.json")
        service.stop()
    return results


def load_body(url, headers):
    status, _, body = http("GET", url, headers=headers)
    if status != 200:
        raise BenchError(f"GET {url} answered {status}")
    return body


def write(results, path, sluice_version, valgrind_version, started):
    lines = [
        "# Sluice benchmark — instructions per request (callgrind)",
        "",
        f"Generated by `./bench/run --instructions` on {started}; how it counts: the docstring of",
        "[`bench/lib/instructions.py`](../lib/instructions.py). User-space instructions only (the",
        f"kernel's TCP is not counted); {REQUESTS} requests per scenario, {CONNECTIONS} connections,",
        f"after {WARMUP} to warm up.",
        "",
        "| scenario | process | instructions per request |",
        "| --- | --- | --- |",
    ]
    for key, value in results.items():
        scenario, side = key.split(" ", 1)
        lines.append(f"| {scenario} | {side} | {value:,.0f} |")
    ratios = [("D1", "reference", "the reference service"), ("D1", "pingora floor", "bare pingora's fixed answer"),
              ("P1", "pingora floor", "pingora's proxy without hooks")]
    lines.append("")
    for scenario, side, what in ratios:
        if f"{scenario} {side}" in results:
            ratio = results[f"{scenario} sluice"] / results[f"{scenario} {side}"]
            lines.append(f"- {scenario}, Sluice ÷ {what}: {ratio:.2f}×")
    lines += ["", "The pingora floor (`bench/pingora-floor`) is pingora with nothing of Sluice's: a fixed",
              "answer on pingora's HTTP/1 session, and pingora's proxy without hooks. Sluice reads common",
              "heads itself, without pingora's session: its D1 adds the caller checks, the database call",
              "and the envelope to that. Its P1 reads the caller's head the same way and forwards the",
              "call with pingora's HTTP/1 client session over pingora's connector and connection pool",
              "(`proxy/src/forward.rs`), which is most of what the floor's proxy executes.",
              "",
              "The count repeats to within 0.2 % on a quiet machine. It drops by a few percent when",
              "other work loads the machine: the process is woken less often and serves more requests per",
              "wake-up (the same binary counted D1 at 45,894 and 47,973 instructions that way)."]
    lines += ["", f"- Sluice: {sluice_version}", f"- valgrind: {valgrind_version}", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
