"""Load generators and what they measured: oha for every HTTP scenario (closed loop with a fixed
number of connections, or open loop at a fixed rate with -q), pgbench and sysbench for the
databases' own baselines. Each returns a Sample: requests answered as expected per second,
p50 and p99 latency, and the CPU time of the load generator itself."""
import json
import math
import os
import re
import subprocess
import time

from common import RUN, BenchError


class Sample(dict):
    """rps, p50_ms, p99_ms, ok, bad (requests answered otherwise), statuses, seconds, load_cpu_s."""


def _run_measured(cmd, timeout):
    """Runs a load generator to its end; returns (exit code, stdout, stderr). Its CPU time is
    in the children's rusage (children_cpu) once communicate() has reaped it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise BenchError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f} s")
    return proc.returncode, out, err


def children_cpu():
    r = os.times()
    return r.children_user + r.children_system


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


# ------------------------------------------------------------------------------------------
# oha

OHA_ID_REGEX = "[1-9][0-9]{4}"  # ids 10000-99999, uniform
LOOPBACK = re.compile(r"^http://127\.0\.0\.1:\d+/")
ID_LOW, ID_HIGH = 10000, 99999


def oha(exe, url, seconds, connections, headers=None, qps=None, regex=False, ok_status=(200,), count=None):
    """One oha run. With regex=True the URL is a regular expression (--rand-regex-url): write a
    literal `?` as `[?]` and dots as they are (oha escapes them); no backslashes. With qps the
    load is open loop at that rate. With count, exactly that many requests (seconds is then
    only the time allowed)."""
    cmd = [exe, "--no-tui", "--output-format", "json", "-c", str(connections)]
    if count:
        cmd += ["-n", str(count)]
    else:
        # -w: at the deadline, requests under way finish instead of being cut off, so that no
        # proxy in between has to drop a half-used upstream connection (which P1 would count).
        cmd += ["-z", f"{int(seconds * 1000)}ms", "-w"]
    if qps:
        cmd += ["-q", str(qps)]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    # Only the loopback address is a valid target: refuse anything else before sending a byte.
    literal = url.replace("[?]", "?") if regex else url
    if not LOOPBACK.match(literal) or (regex and "\\" in url):
        raise BenchError(f"refusing to load {url!r}: only http://127.0.0.1:<port>/ is a target")
    cmd += ["--rand-regex-url", url] if regex else [url]
    cpu0 = children_cpu()
    code, out, err = _run_measured(cmd, timeout=seconds + 60)
    cpu = children_cpu() - cpu0
    if code != 0:
        raise BenchError(f"oha exited with {code}: {err.strip()[-1000:]}")
    try:
        report = json.loads(out)
    except json.JSONDecodeError as e:
        raise BenchError(f"oha printed no JSON ({e}): {out[:300]!r} {err[:300]!r}")
    statuses = {str(k): int(v) for k, v in report.get("statusCodeDistribution", {}).items()}
    errors = {str(k): int(v) for k, v in report.get("errorDistribution", {}).items()}
    # Requests cut off by the end of the run are not failures; anything else is.
    errors.pop("aborted due to deadline", None)
    total_s = float(report["summary"]["total"])
    ok = sum(v for k, v in statuses.items() if int(k) in ok_status)
    pct = report.get("latencyPercentiles", {})
    return Sample(
        rps=ok / total_s if total_s else 0.0,
        p50_ms=_ms(pct.get("p50")),
        p99_ms=_ms(pct.get("p99")),
        ok=ok,
        bad=sum(statuses.values()) - ok + sum(errors.values()),
        statuses=statuses,
        errors=errors,
        seconds=total_s,
        load_cpu_s=cpu,
    )


def _ms(seconds):
    return None if seconds is None else float(seconds) * 1000.0


def oha_version(exe):
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()


# ------------------------------------------------------------------------------------------
# pgbench: the same prepared SELECT, straight to PostgreSQL

PGBENCH_SCRIPT = f"""\\set id random({ID_LOW}, {ID_HIGH})
SELECT id, name, age, city FROM users WHERE id = :id;
"""


def pgbench(exe, seconds, clients, threads, db="sluice_bench"):
    work = os.path.join(RUN, "pgbench")
    os.makedirs(work, exist_ok=True)
    for name in os.listdir(work):
        os.remove(os.path.join(work, name))
    script = os.path.join(work, "lookup.sql")
    with open(script, "w") as f:
        f.write(PGBENCH_SCRIPT)
    cmd = [exe, "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-n", "-M", "prepared",
           "-c", str(clients), "-j", str(threads), "-T", str(max(1, round(seconds))), "-f", script,
           "-l", "--sampling-rate", "0.1", "--log-prefix", os.path.join(work, "log"), db]  # 10 % logged
    cpu0 = children_cpu()
    code, out, err = _run_measured(cmd, timeout=seconds + 60)
    cpu = children_cpu() - cpu0
    if code != 0:
        raise BenchError(f"pgbench exited with {code}: {err.strip()[-1000:]}")
    tx = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    # Per-transaction log lines: client_id transaction_no latency_us script_no epoch_s epoch_us
    latencies = []
    for name in os.listdir(work):
        if name.startswith("log."):
            with open(os.path.join(work, name)) as f:
                latencies.extend(int(line.split()[2]) for line in f if line.strip())
    latencies.sort()
    return Sample(
        rps=tps, p50_ms=percentile(latencies, 50) / 1000, p99_ms=percentile(latencies, 99) / 1000,
        ok=tx, bad=int(failed.group(1)) if failed else 0, statuses={}, errors={},
        seconds=seconds, load_cpu_s=cpu,
    )


# ------------------------------------------------------------------------------------------
# sysbench oltp_point_select: MariaDB's own point select

def sysbench(exe, seconds, threads, db="sluice_bench"):
    cmd = [exe, "oltp_point_select", "--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-port=3306",
           "--mysql-user=root", f"--mysql-db={db}", "--tables=1", "--table-size=100000",
           f"--threads={threads}", f"--time={max(1, round(seconds))}", "--rand-type=uniform",
           "--percentile=99", "--histogram=on", "--report-interval=0", "run"]
    cpu0 = children_cpu()
    code, out, err = _run_measured(cmd, timeout=seconds + 60)
    cpu = children_cpu() - cpu0
    if code != 0:
        raise BenchError(f"sysbench exited with {code}: {(err or out).strip()[-1000:]}")
    queries = re.search(r"queries:\s+(\d+)\s+\(([\d.]+) per sec", out)
    errors = re.search(r"ignored errors:\s+(\d+)", out)
    p99 = re.search(r"99th percentile:\s+([\d.]+)", out)
    # The histogram: "   0.087 |****   12" (latency in ms, count); p50 from it.
    hist = [(float(v), int(c)) for v, c in re.findall(r"^\s*([\d.]+)\s+\|\**\s+(\d+)\s*$", out, re.M)]
    total, seen, p50 = sum(c for _, c in hist), 0, None
    for value, count in hist:
        seen += count
        if p50 is None and total and seen >= total / 2:
            p50 = value
    return Sample(
        rps=float(queries.group(2)), p50_ms=p50, p99_ms=float(p99.group(1)) if p99 else None,
        ok=int(queries.group(1)), bad=int(errors.group(1)) if errors else 0, statuses={}, errors={},
        seconds=seconds, load_cpu_s=cpu,
    )


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"
