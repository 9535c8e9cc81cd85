#!/usr/bin/env python3
"""Where a hello request's CPU goes, per thread and for the whole machine, against granian.

For each target it starts the server, warms it up, and runs ``wrk -t1`` once while it
reads, per request: every server thread's user/system CPU, context switches, run time
and run-queue wait (``/proc/<pid>/task/*``); the machine's busy and idle CPU, context
switches and interrupts (``/proc/stat``: what wrk and the kernel cost too, because on
two cores the three busy threads share them); and, with ``--syscalls``, each thread's
system calls by name (``perf stat`` on syscall tracepoints, which adds a little CPU).

Targets: ``wsgi:DIR`` (the bare WSGI hello on ``cherrypy_rs wsgi --threads 1``) and
``app:DIR`` (the CherryPy-style hello), DIR a tree holding a release ``cherrypy_rs``
(see ``ab_hello.py``), optionally followed by ``+ENV=VALUE`` settings for an
experimental build; ``granian`` (``--blocking-threads 1``). Only 127.0.0.1 is contacted;
every process started is stopped by its PID.

Example::

    python benchmarks/hello_profile.py --connections 16,50 --syscalls \\
        wsgi:/tmp/rel-main granian wsgi:/tmp/rel-inline+CHERRYPY_RS_INLINE=1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
from bench_hello import APPS_DIR, descendants, free_port, run_wrk, stop_process, wait_ready
from thread_profile import report, thread_stats

SYSCALLS = ("read", "write", "writev", "recvfrom", "sendto", "epoll_wait", "futex", "sched_yield")


def command(target: str, port: int) -> tuple[list[str], dict[str, str] | None]:
    """The command line and environment of one target."""
    if target == "granian":
        return bench_hello.cmd_granian_1thread(port), None
    scenario, _, rest = target.partition(":")
    tree, *settings = rest.split("+")
    env = dict(os.environ, PYTHONPATH=tree)
    env.update(setting.split("=", 1) for setting in settings)
    if scenario == "wsgi":
        cmd = [sys.executable, "-m", "cherrypy_rs", "wsgi", "hello_wsgi:app"]
        return [*cmd, "--bind", f"{bench_hello.HOST}:{port}", "--threads", "1"], env
    if scenario == "app":
        return [sys.executable, str(APPS_DIR / "hello_cherrypy_rs.py"), str(port)], env
    raise SystemExit(f"unknown target {target!r}: wsgi:DIR, app:DIR or granian")


def machine() -> dict[str, int]:
    """Busy and idle jiffies, context switches and interrupts of the whole machine."""
    out: dict[str, int] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name == "cpu":
            ticks = [int(v) for v in values]
            out["idle"] = ticks[3] + ticks[4]
            out["busy"] = sum(ticks) - out["idle"]
        elif name in ("ctxt", "intr"):
            out[name] = int(values[0])
    return out


def perf_syscalls(pid: int) -> subprocess.Popen[str]:
    """``perf stat`` counting each thread's system calls by name until interrupted."""
    pids = ",".join(str(p) for p in descendants(pid))
    events = ",".join(f"syscalls:sys_enter_{name}" for name in SYSCALLS)
    return subprocess.Popen(
        ["perf", "stat", "--per-thread", "-x", ";", "-p", pids, "-e", events],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def print_syscalls(text: str, requests: int) -> None:
    """One line per thread: the system calls per request that it made."""
    per_thread: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split(";")
        try:
            count = float(fields[1])
        except (IndexError, ValueError):
            continue
        if count / requests >= 0.01:
            name = fields[3].removeprefix("syscalls:sys_enter_")
            per_thread.setdefault(fields[0].strip(), []).append(f"{name} {count / requests:.2f}")
    for thread, calls in per_thread.items():
        print(f"  syscalls per request, {thread}: {', '.join(calls)}")


def profile(target: str, conns: int, args: argparse.Namespace) -> None:
    """One measured run of one target."""
    port = free_port()
    cmd, env = command(target, port)
    proc = subprocess.Popen(
        cmd, cwd=APPS_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        reason = wait_ready(proc, port, 20.0)
        if reason is not None:
            print(f"{target}: {reason}")
            return
        run_wrk(args.wrk, port, 1, conns, args.warmup)
        tracer = perf_syscalls(proc.pid) if args.syscalls else None
        threads0, machine0 = thread_stats(proc.pid), machine()
        run = run_wrk(args.wrk, port, 1, conns, args.duration)
        threads1, machine1 = thread_stats(proc.pid), machine()
        n = run.requests
        label = f"{target} c={conns}: {run.requests_per_s:,.0f} req/s, p99 {run.latency_p99_ms} ms"
        report(label, threads0, threads1, n)
        d = {k: machine1[k] - machine0[k] for k in machine1}
        tick_us = 1e6 / bench_hello.CLK_TCK
        print(
            f"  machine: busy {d['busy'] * tick_us / n:.2f} µs, idle {d['idle'] * tick_us / n:.2f}"
            f" µs, {d['ctxt'] / n:.3f} context switches, {d['intr'] / n:.3f} interrupts"
            " per request"
        )
        if tracer is not None:
            tracer.send_signal(2)
            print_syscalls(tracer.communicate(timeout=30)[1], n)
    finally:
        stop_process(proc)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("targets", nargs="+", help="wsgi:DIR[+ENV=V], app:DIR[+ENV=V], granian")
    p.add_argument("--connections", default="16", help="comma-separated, e.g. 16,50,128")
    p.add_argument("--duration", type=float, default=4)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--syscalls", action="store_true", help="count system calls (perf stat)")
    p.add_argument("--wrk", default="wrk")
    args = p.parse_args()
    for conns in (int(c) for c in args.connections.split(",")):
        for target in args.targets:
            profile(target, conns, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
