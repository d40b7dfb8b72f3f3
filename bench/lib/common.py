"""Shared helpers of the benchmark driver: paths, logging, commands, ports, processes and the
CPU time they use (read from /proc)."""
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH)
RUN = os.path.join(BENCH, ".run")  # state of a run: data dirs, logs, rendered configs
PEERS = os.path.join(BENCH, ".peers")  # peers installed by the script (npm, cargo)
LOGS = os.path.join(RUN, "logs")
CORES = os.cpu_count() or 2
POOL = 2 * CORES  # database connections for Sluice, the reference, PostgREST, pgbench, sysbench
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A setup step or a request failed: the run stops with this message."""


_T0 = time.monotonic()


def log(message):
    print(f"== [{time.monotonic() - _T0:5.1f} s] {message}", file=sys.stderr, flush=True)


def sh(cmd, check=True, capture=True, env=None, input=None, timeout=None, cwd=None):
    """Runs a command (a list); returns its stdout. A failure raises BenchError with stderr."""
    result = subprocess.run(
        cmd,
        input=input,
        capture_output=capture,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip()[-2000:] if capture else ""
        raise BenchError(f"`{' '.join(cmd)}` exited with {result.returncode}\n{detail}")
    return result.stdout if capture else ""


def which(name, extra_dirs=()):
    for d in list(extra_dirs) + os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        path = os.path.join(d, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """One HTTP call; returns (status, headers, body bytes). Never raises on an HTTP status."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and "Content-Type" not in request.headers:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_until(what, check, timeout=30.0, proc=None):
    """Polls check() until it is true; fails when the time is up or proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{what}: the process exited with {proc.returncode} (log: {proc.log_path})")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise BenchError(f"{what} did not come up within {timeout:.0f} s")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Service:
    """A long-running process the driver started; stopped (by its pid) when the run ends."""

    running = []

    def __init__(self, name, cmd, env=None, cwd=None):
        os.makedirs(LOGS, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(LOGS, f"{name}.log")
        self.log_file = open(self.log_path, "ab")
        self.log_file.write(f"\n--- {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
        self.log_file.flush()
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.proc.pid
        self.returncode = None
        Service.running.append(self)

    def poll(self):
        self.returncode = self.proc.poll()
        return self.returncode

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)  # its own session: the process and its children
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.log_file.close()
        if self in Service.running:
            Service.running.remove(self)


@atexit.register
def _stop_all():
    for service in list(reversed(Service.running)):
        try:
            service.stop(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# ------------------------------------------------------------------------------------------
# CPU time from /proc

def _stat(pid):
    """(ppid, comm, utime + stime in ticks) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()  # fields[0] is field 3 (state)
    return int(fields[1]), comm, int(fields[11]) + int(fields[12])  # ppid, comm, utime + stime


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def all_processes():
    """{pid: (ppid, comm, ticks)} of every process."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def tree(table, root):
    """The pids of root and its descendants."""
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def machine_busy_ticks():
    """CPU ticks spent on anything but idle and iowait, all cores together."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values[:8]) - values[3] - values[4]


class Watch:
    """A process tree whose CPU time counts for one name: a root pid, optionally only the
    descendants whose command line contains `only` (PostgreSQL backends of one database)."""

    def __init__(self, name, root, only=None):
        self.name, self.root, self.only = name, root, only

    def pids(self, table):
        pids = tree(table, self.root)
        if self.only is None:
            return pids
        return [p for p in pids if p != self.root and self.only in cmdline(p)]


class CpuMeter:
    """CPU time of watched process trees between start() and stop(). A thread samples every
    process of each tree four times a second and keeps the last value seen per pid, so
    processes that start and end during the run (pgbench's connections) are counted too."""

    PERIOD = 0.25

    def __init__(self, watches):
        self.watches = list(watches)
        self._first, self._last = {}, {}  # (name, pid) -> ticks
        self._stop = threading.Event()

    def _sample(self, first=False):
        table = all_processes()
        for watch in self.watches:
            for pid in watch.pids(table):
                key = (watch.name, pid)
                if first:
                    self._first[key] = table[pid][2]
                self._last[key] = table[pid][2]

    def _loop(self):
        while not self._stop.wait(self.PERIOD):
            self._sample()

    def start(self):
        self._busy0, self._t0 = machine_busy_ticks(), time.monotonic()
        self._sample(first=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._sample()
        busy, wall = machine_busy_ticks() - self._busy0, time.monotonic() - self._t0
        seconds = {watch.name: 0.0 for watch in self.watches}
        for (name, pid), ticks in self._last.items():
            seconds[name] += (ticks - self._first.get((name, pid), 0)) / CLK_TCK
        return {"cpu_s": seconds, "machine_busy_s": busy / CLK_TCK, "wall_s": wall}
