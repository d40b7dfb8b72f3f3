#!/usr/bin/env python3
"""The catalog at 10,000 APIs (bench/README.md, "Catalog at 10,000 APIs").

  ./bench/catalog_scale.py                  build the release binary, 3 rounds of 10,000 APIs
  ./bench/catalog_scale.py --sluice PATH    measure this binary instead
  ./bench/catalog_scale.py --apis 2000 --rounds 1   a smaller, quicker run

Writes a declarative directory of N wizard APIs over one SQLite table (100 files), then per
round, on a new SQLite store: starts `sluice serve` (ports below 32768), and measures
  (c) `sluice apply` of the N new APIs (wall time of the command);
  (a) one API changed in the files: from the start of `sluice apply` until the edge answers
      with the changed definition (polled every 5 ms);
  (b) the CPU time `sluice serve` spends on one change (utime + stime from /proc, less what
      it spends idle over as long), measured on undoing the change of (a) with no call to the
      edge meanwhile (while (a) polls, the edge's answers count too; reported beside it), and
      the rebuild's own time from its log line;
  (d) a page of the management API's API list (20 APIs): first, middle and last page, the
      median of 20 calls each.
Prints the medians of the rounds and writes bench/results/catalog_scale.json."""
import argparse
import json
import os
import random
import re
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from common import BENCH, CLK_TCK, RUN, BenchError, Service, all_processes, http, log, tree, wait_until  # noqa: E402
import sluice  # noqa: E402

WORKGROUP = "scale"
PER_FILE = 100
PAGE_SIZE = 20
HERE = os.path.join(RUN, "catalog_scale")
TARGETS = {"one_change_served_s": 1.0, "rebuild_cpu_ms": 50.0, "apply_new_s": 10.0, "list_page_ms": 10.0}


def low_port():
    """A free port between 20000 and 32000: below the kernel's ephemeral range."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError("no free port between 20000 and 32000")


def api_doc(i, changed=False):
    # The changed definition answers `label` in place of `name`: the edge shows when it serves it.
    field = "{name: label, column: name, type: string}" if changed else "{name: name, type: string}"
    return (
        f"kind: Api\nworkgroup: {WORKGROUP}\nname: api{i:05d}\npath: /s/{i}/items/{{id}}\n"
        f"datasource: items\nmode: wizard\ntable: items\n"
        f"requestParams:\n  - {{name: id, type: int, position: path, column: id, required: true}}\n"
        f"responseFields: [{{name: id, type: int}}, {field}]\n"
        f"options: {{maxLimit: 1}}\nauthMode: none\npublish: [prod]\n"
    )


def write_files(conf, count, dataset, changed=None):
    """The declarative directory: the datasource and `count` APIs, PER_FILE to a file."""
    shutil.rmtree(conf, ignore_errors=True)
    os.makedirs(conf)
    with open(os.path.join(conf, "datasource.yaml"), "w") as f:
        f.write(f"kind: Datasource\nworkgroup: {WORKGROUP}\nname: items\ntype: sqlite\ndatabase: {dataset}\n")
    for start in range(0, count, PER_FILE):
        with open(os.path.join(conf, f"apis{start // PER_FILE:04d}.yaml"), "w") as f:
            f.write("---\n".join(api_doc(i, i == changed) for i in range(start, min(start + PER_FILE, count))))


def make_dataset(path):
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    db.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"item {i}") for i in range(1, 101)])
    db.commit()
    db.close()


def cpu_ticks(pid):
    table = all_processes()
    return sum(table[p][2] for p in tree(table, pid))


class Server:
    def __init__(self, exe, data_dir):
        shutil.rmtree(data_dir, ignore_errors=True)
        os.makedirs(data_dir)
        self.exe, self.data_dir = exe, data_dir
        self.edge_port, self.admin_port = low_port(), low_port()
        self.token = "slt_scale_" + os.urandom(16).hex()
        self.env = dict(
            os.environ,
            SLUICE_DATA_DIR=data_dir,
            SLUICE_DEMO="false",
            SLUICE_ADMIN_TOKEN=self.token,
            SLUICE_EDGE_ADDR=f"127.0.0.1:{self.edge_port}",
            SLUICE_ADMIN_ADDR=f"127.0.0.1:{self.admin_port}",
            SLUICE_DATASET_ROOTS=f"{WORKGROUP}={HERE}",
            SLUICE_SHUTDOWN_TIMEOUT_SECS="1",
            RUST_LOG="warn,proxy::watcher=info",
            NO_COLOR="1",
        )
        self.service = None

    def start(self):
        self.service = Service("catalog_scale", [self.exe, "serve"], env=self.env, cwd=self.data_dir)
        health = f"http://127.0.0.1:{self.admin_port}/admin/v1/health"
        wait_until("sluice serve", lambda: http("GET", health, timeout=2)[0] == 200, timeout=60, proc=self.service)

    def stop(self):
        if self.service:
            self.service.stop()

    def apply(self, conf):
        """Starts `sluice apply -f conf`; returns the process."""
        return subprocess.Popen(
            [self.exe, "apply", "-f", conf], env=self.env, cwd=self.data_dir,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def get(self, path):
        return http("GET", f"http://127.0.0.1:{self.edge_port}{path}", timeout=5)

    def admin(self, path):
        url = f"http://127.0.0.1:{self.admin_port}/admin/v1/workgroups/{WORKGROUP}{path}"
        return http("GET", url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)

    def rebuild_times_us(self):
        """The rebuild times the watcher logged, in order."""
        out = []
        with open(self.service.log_path, errors="replace") as f:
            for line in f:
                line = re.sub(r"\x1b\[[0-9;]*m", "", line)
                if "catalog reloaded" in line and "rebuild_us=" in line:
                    out.append(int(line.split("rebuild_us=")[1].split()[0]))
        return out


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def finish(proc, what):
    output, _ = proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"{what} exited with {proc.returncode}: {output[-2000:]}")
    return output


def round_(exe, count, number):
    conf, dataset = os.path.join(HERE, "conf"), os.path.join(HERE, "items.sqlite")
    write_files(conf, count, dataset)
    server = Server(exe, os.path.join(HERE, f"data{number}"))
    server.start()
    try:
        # (c) apply of N new APIs.
        t0, u0 = time.monotonic(), children_cpu()
        finish(server.apply(conf), "apply of the new APIs")
        apply_new, apply_new_cpu = time.monotonic() - t0, children_cpu() - u0
        last = f"/s/{count - 1}/items/1"
        wait_until("the edge to serve the last API", lambda: server.get(last)[0] == 200, timeout=120, proc=server.service)
        log(f"round {number}: apply of {count} new APIs {apply_new:.2f} s (CPU {apply_new_cpu:.2f} s)")

        # The idle CPU of the server over a few seconds, to take off (b).
        time.sleep(1.0)
        c0, t0 = cpu_ticks(server.service.pid), time.monotonic()
        time.sleep(3.0)
        idle_per_s = (cpu_ticks(server.service.pid) - c0) / CLK_TCK / (time.monotonic() - t0)

        # (a) and (b): one API changed.
        changed = count // 2
        write_files(conf, count, dataset, changed=changed)
        path = f"/s/{changed}/items/1"
        before = len(server.rebuild_times_us())
        c0, u0 = cpu_ticks(server.service.pid), children_cpu()
        t0 = time.monotonic()
        proc = server.apply(conf)
        served = None
        while time.monotonic() - t0 < 60:
            status, _, body = server.get(path)
            if status == 200 and b'"label"' in body:
                served = time.monotonic() - t0
                break
            time.sleep(0.005)
        output = finish(proc, "apply of one changed API")
        apply_one, apply_one_cpu = time.monotonic() - t0, children_cpu() - u0
        if served is None:
            raise BenchError("the changed API was not served within 60 s")
        if "1 version saved" not in output:
            raise BenchError(f"apply of one change did not save one version: {output[-500:]}")
        time.sleep(1.5)  # let any rebuild under way finish
        polled_cpu = (cpu_ticks(server.service.pid) - c0) / CLK_TCK - idle_per_s * (time.monotonic() - t0)

        # (b) on its own: the same change undone, with no call to the edge while it is taken
        # in (the polls above are calls the edge answers, not rebuild work). Done once the
        # watcher logs the rebuild, then 1.5 s for anything after it.
        write_files(conf, count, dataset)
        before = len(server.rebuild_times_us())
        c0 = cpu_ticks(server.service.pid)
        t0 = time.monotonic()
        finish(server.apply(conf), "apply undoing the change")
        wait_until("the rebuild of the undone change", lambda: len(server.rebuild_times_us()) > before, timeout=60,
                   proc=server.service)
        time.sleep(1.5)
        wall = time.monotonic() - t0
        cpu = (cpu_ticks(server.service.pid) - c0) / CLK_TCK - idle_per_s * wall
        rebuilds = server.rebuild_times_us()[before:]
        log(f"round {number}: one change served after {served:.3f} s (apply {apply_one:.2f} s, CPU {apply_one_cpu:.2f} s, "
            f"serve CPU while polled {polled_cpu * 1000:.0f} ms); undone without polls: serve CPU {cpu * 1000:.0f} ms, "
            f"rebuilds {rebuilds} µs")

        # (d) list pages.
        pages = (count + PAGE_SIZE - 1) // PAGE_SIZE
        page_ms = {}
        for label, page in [("first", 1), ("middle", pages // 2), ("last", pages)]:
            query = f"/apis?pageNum={page}&pageSize={PAGE_SIZE}"
            status, _, body = server.admin(query)
            if status != 200 or len(json.loads(body)["data"]["items"]) == 0:
                raise BenchError(f"list page {page}: {status} {body[:300]!r}")
            times = []
            for _ in range(20):
                t = time.monotonic()
                status, _, _ = server.admin(query)
                times.append((time.monotonic() - t) * 1000)
            page_ms[label] = statistics.median(times)
        log(f"round {number}: list pages (ms) {page_ms}")
        return {
            "apply_new_s": apply_new,
            "apply_new_cpu_s": apply_new_cpu,
            "one_change_served_s": served,
            "apply_one_s": apply_one,
            "apply_one_cpu_s": apply_one_cpu,
            "rebuild_cpu_ms": max(cpu, 0.0) * 1000,
            "serve_cpu_while_polled_ms": max(polled_cpu, 0.0) * 1000,
            "rebuild_logged_ms": [us / 1000 for us in rebuilds],
            "list_page_ms": page_ms,
        }
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", help="the sluice binary to measure (default: build the release one)")
    parser.add_argument("--apis", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    exe = os.path.abspath(args.sluice) if args.sluice else sluice.binary("release")
    os.makedirs(HERE, exist_ok=True)
    make_dataset(os.path.join(HERE, "items.sqlite"))
    rounds = [round_(exe, args.apis, n + 1) for n in range(args.rounds)]

    def median(key, sub=None):
        return statistics.median(r[key][sub] if sub else r[key] for r in rounds)

    pages = {label: median("list_page_ms", label) for label in ("first", "middle", "last")}
    summary = {
        "apis": args.apis,
        "rounds": rounds,
        "median": {
            "one_change_served_s": median("one_change_served_s"),
            "apply_one_s": median("apply_one_s"),
            "apply_one_cpu_s": median("apply_one_cpu_s"),
            "apply_new_cpu_s": median("apply_new_cpu_s"),
            "rebuild_logged_ms": statistics.median(x for r in rounds for x in r["rebuild_logged_ms"]),
            "rebuild_cpu_ms": median("rebuild_cpu_ms"),
            "serve_cpu_while_polled_ms": median("serve_cpu_while_polled_ms"),
            "apply_new_s": median("apply_new_s"),
            "list_page_ms": pages,
        },
        "targets": TARGETS,
        "loadavg_after": open("/proc/loadavg").read().split()[:3],
    }
    m = summary["median"]
    print(f"\nCatalog at {args.apis} APIs, median of {args.rounds} round(s); load average {summary['loadavg_after']}:")
    print(f"  (a) one changed API served after apply starts  {m['one_change_served_s']:.3f} s   (target ≤ 1 s; apply itself {m['apply_one_s']:.2f} s, CPU {m['apply_one_cpu_s']:.2f} s)")
    print(f"  (b) serve's CPU for one change (rebuild)        {m['rebuild_cpu_ms']:.0f} ms   (target ≤ 50 ms; rebuild as logged {m['rebuild_logged_ms']:.0f} ms; "
          f"{m['serve_cpu_while_polled_ms']:.0f} ms while (a) polled the edge)")
    print(f"  (c) apply of {args.apis} new APIs                 {m['apply_new_s']:.2f} s   (target ≤ 10 s; CPU {m['apply_new_cpu_s']:.2f} s)")
    print(f"  (d) list page first / middle / last            {pages['first']:.1f} / {pages['middle']:.1f} / {pages['last']:.1f} ms   (target ≤ 10 ms)")
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    with open(os.path.join(BENCH, "results", "catalog_scale.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"catalog_scale: {e}", file=sys.stderr)
        sys.exit(1)
