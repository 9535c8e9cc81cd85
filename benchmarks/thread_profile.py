#!/usr/bin/env python3
"""Per-thread cost of one request, for a row of ``bench_h2.py``, against granian.

For each server (cherrypy_rs builds given as ``NAME=DIR`` variants, and granian
``--blocking-threads 1``) it starts the server, warms it up, then runs the row's load once
and reads every thread's ``/proc/<pid>/task/<tid>/{stat,status,schedstat}`` around the run:
user and system CPU, voluntary and involuntary context switches and run queue wait, each
per request. With ``--strace`` it also counts the system calls of a fixed number of
requests (``strace -c -f``, each thread's calls summed): futex, writev, recvfrom, epoll.

Only 127.0.0.1 is contacted; every process started is stopped by its PID; loops bounded.

Example::

    python benchmarks/thread_profile.py --row h2c-m1 --variant base=/tmp/base --variant new=.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_h2
from bench_hello import CLK_TCK, WrkRun, descendants, stop_process
from bench_tls import make_files


def thread_stats(root: int) -> dict[int, dict[str, float | str]]:
    """Every thread of `root` and its descendants: name, utime, stime (s), context
    switches, schedstat run and wait (s), time slices."""
    out: dict[int, dict[str, float | str]] = {}
    tasks = []
    for pid in descendants(root):
        try:
            tasks += [(pid, int(t)) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
    for pid, tid in tasks:
        base = f"/proc/{pid}/task/{tid}"
        try:
            stat = Path(f"{base}/stat").read_text()
            status = Path(f"{base}/status").read_text()
            sched = Path(f"{base}/schedstat").read_text().split()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        vol = int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", status).group(1))
        invol = int(re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", status).group(1))
        out[tid] = {
            "name": name,
            "utime": int(fields[11]) / CLK_TCK,
            "stime": int(fields[12]) / CLK_TCK,
            "vol": vol,
            "invol": invol,
            "run": int(sched[0]) / 1e9,
            "wait": int(sched[1]) / 1e9,
            "slices": int(sched[2]),
        }
    return out


def report(label: str, before: dict, after: dict, requests: int) -> None:
    """Per-request deltas of each thread that ran."""
    print(f"{label}: {requests} requests")
    print(
        f"  {'thread':<18} {'user µs':>8} {'sys µs':>8} {'run µs':>8} {'wait µs':>8} "
        f"{'vol cs':>7} {'invol cs':>8} {'slices':>7}"
    )
    total = 0.0
    for tid, a in after.items():
        b = before.get(tid)
        if b is None:
            continue
        d = {k: a[k] - b[k] for k in a if k != "name"}
        total += d["utime"] + d["stime"]
        if d["run"] < 0.001:
            continue
        per = {k: v / requests for k, v in d.items()}
        print(
            f"  {a['name'] + ' ' + str(tid):<18} {per['utime'] * 1e6:8.2f} "
            f"{per['stime'] * 1e6:8.2f} {per['run'] * 1e6:8.2f} {per['wait'] * 1e6:8.2f} "
            f"{per['vol']:7.3f} "
            f"{per['invol']:8.3f} {per['slices']:7.3f}"
        )
    print(f"  all threads: {total / requests * 1e6:.2f} µs CPU per request")


def strace_counts(pid: int, load: Callable[[], WrkRun]) -> tuple[str, int]:
    """System-call counts of every thread of `pid` during `load()`."""
    with tempfile.NamedTemporaryFile(prefix="strace-", suffix=".txt", delete=False) as f:
        path = f.name
    attach = [a for p in descendants(pid) for a in ("-p", str(p))]
    tracer = subprocess.Popen(
        ["strace", "-c", "-f", "-o", path, *attach],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        run = load()
    finally:
        tracer.terminate()
        tracer.wait(timeout=30)
    text = Path(path).read_text()
    os.unlink(path)
    return text, run.requests


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", default="h2c-m1", choices=list(bench_h2.ROWS))
    p.add_argument("--duration", type=float, default=4)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--variant", action="append", default=[], metavar="NAME=DIR")
    p.add_argument("--no-granian", action="store_true")
    p.add_argument("--strace", action="store_true", help="also strace -c -f one run")
    args = p.parse_args()
    row = bench_h2.ROWS[args.row]
    bench_args = bench_h2.parse_args(
        ["--rows", args.row, *[arg for v in args.variant for arg in ("--variant", v)]]
    )
    bench_args.connections = args.connections
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    names = [*bench_args.variants] + ([] if args.no_granian else ["granian"])
    log_dir = Path(tempfile.mkdtemp(prefix="thread-profile-"))
    with tempfile.TemporaryDirectory(prefix="thread-profile-") as tmp:
        files = make_files(Path(tmp))
        lives = []
        try:
            for name in names:
                lives.append(bench_h2.start(row, name, files, log_dir, bench_args))
            for live in lives:
                bench_h2.run_load(row, bench_args, live.port, 1)
            for r in range(args.rounds):
                for live in lives if r % 2 == 0 else reversed(lives):
                    pid = live.proc.pid
                    before = thread_stats(pid)
                    run = bench_h2.run_load(row, bench_args, live.port, args.duration)
                    after = thread_stats(pid)
                    report(
                        f"{live.name} {row.name} round {r + 1}: {run.requests_per_s:,.0f} req/s, "
                        f"load {os.getloadavg()[0]:.2f}",
                        before,
                        after,
                        run.requests,
                    )
            if args.strace:
                for live in lives:
                    port = live.port
                    text, n = strace_counts(
                        live.proc.pid,
                        lambda port=port: bench_h2.run_load(row, bench_args, port, 2),
                    )
                    print(f"{live.name} strace, {n} requests (per request):")
                    for line in text.splitlines():
                        parts = line.split()
                        if len(parts) >= 5 and parts[3].isdigit():
                            calls = int(parts[3])
                            print(f"  {parts[-1]:<16} {calls / n:7.3f}")
        finally:
            for live in lives:
                stop_process(live.proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
