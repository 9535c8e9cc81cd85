#!/usr/bin/env python3
"""WSGI hello-world benchmark: cherrypy_rs's WSGI gateway vs granian, gunicorn, waitress.

Every target serves the same bare WSGI app, ``apps/hello_wsgi.py:app``, with one
worker process on 127.0.0.1. The mechanics (free port, readiness polling, wrk runs
and parsing, CPU accounting over the process tree from ``/proc``, stop by PID) are
those of ``bench_hello.py``, imported from it. The median requests/s and the
server's CPU time per request are reported with ratios against granian (default
threads) and gunicorn's sync worker. Results are also written as JSON to
``benchmarks/results/``.

Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time.

Examples::

    python benchmarks/bench_wsgi.py
    python benchmarks/bench_wsgi.py --quick --targets cherrypy_rs,granian,gunicorn-sync
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hello import (
    HOST,
    RESULTS_DIR,
    Target,
    TargetResult,
    bench_target,
    cmd_granian,
    cmd_granian_1thread,
    ratio,
    tail,
    versions,
)

APP = "hello_wsgi:app"

#: Targets the two ratio columns are computed against, with their column titles.
REFERENCES = (("granian", "vs granian"), ("gunicorn-sync", "vs gunicorn-sync"))


def _python_module(module: str) -> list[str]:
    """Run ``module`` with the interpreter running this script (its installed version)."""
    return [sys.executable, "-m", module]


def cmd_cherrypy_rs(port: int, threads: int = 1) -> list[str]:
    """Command line for cherrypy_rs's WSGI gateway with ``threads`` handler threads."""
    return [
        *_python_module("cherrypy_rs"),
        "wsgi",
        APP,
        "--bind",
        f"{HOST}:{port}",
        "--threads",
        str(threads),
    ]


def cmd_cherrypy_rs_10threads(port: int) -> list[str]:
    """Command line for cherrypy_rs's WSGI gateway with 10 handler threads."""
    return cmd_cherrypy_rs(port, threads=10)


def _gunicorn(port: int, *worker: str) -> list[str]:
    """Common gunicorn flags: 1 worker, loopback, quiet, no control socket."""
    return [
        *_python_module("gunicorn"),
        "--workers",
        "1",
        *worker,
        "--bind",
        f"{HOST}:{port}",
        "--log-level",
        "warning",
        # gunicorn >= 24 opens a control socket under $HOME by default.
        "--no-control-socket",
        APP,
    ]


def cmd_gunicorn_sync(port: int) -> list[str]:
    """Command line for gunicorn with one sync worker."""
    return _gunicorn(port, "--worker-class", "sync")


def cmd_gunicorn_gthread(port: int) -> list[str]:
    """Command line for gunicorn with one gthread worker of 10 threads."""
    return _gunicorn(port, "--worker-class", "gthread", "--threads", "10")


def cmd_waitress(port: int) -> list[str]:
    """Command line for waitress with its default 4 threads (spelled out)."""
    return [*_python_module("waitress"), "--threads", "4", "--listen", f"{HOST}:{port}", APP]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("cherrypy_rs", "cherrypy_rs WSGI gateway, --threads 1", cmd_cherrypy_rs),
        Target(
            "cherrypy_rs-10threads",
            "cherrypy_rs WSGI gateway, --threads 10",
            cmd_cherrypy_rs_10threads,
        ),
        Target("granian", "granian WSGI, default threads", cmd_granian),
        Target("granian-1thread", "granian WSGI, --blocking-threads 1", cmd_granian_1thread),
        Target("gunicorn-sync", "gunicorn -w 1 -k sync", cmd_gunicorn_sync),
        Target("gunicorn-gthread", "gunicorn -w 1 -k gthread --threads 10", cmd_gunicorn_gthread),
        Target("waitress", "waitress-serve --threads 4", cmd_waitress),
    )
}


def format_table(results: list[TargetResult]) -> str:
    """Render the results as a fixed-width text table with the REFERENCES ratios."""
    by_name = {r.name: r for r in results}
    refs = [by_name.get(name) for name, _ in REFERENCES]
    header = ("target", "req/s (median)", "us CPU/req", *(title for _, title in REFERENCES))
    rows: list[tuple[str, ...]] = []
    for r in results:
        if r.rps_median is None:
            rows.append((r.name, r.status, "", *("" for _ in refs)))
            continue
        cpu = "n/a" if r.cpu_us_per_request is None else f"{r.cpu_us_per_request:.1f}"
        rows.append(
            (r.name, f"{r.rps_median:,.0f}", cpu, *(ratio(r.rps_median, ref) for ref in refs))
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse command-line options (the same as bench_hello.py's)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help="comma-separated subset of: " + ", ".join(TARGETS) + " (default: all)",
    )
    p.add_argument("--runs", type=int, default=3, help="measured wrk runs (default 3)")
    p.add_argument(
        "--duration", type=float, default=10, help="seconds per measured run (default 10)"
    )
    p.add_argument("--connections", "-c", type=int, default=50, help="wrk connections (default 50)")
    p.add_argument("--threads", "-t", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument(
        "--warmup",
        type=float,
        default=2,
        help="warm-up seconds of wrk before measuring (default 2)",
    )
    p.add_argument(
        "--quick", action="store_true", help="one 3 s run per target (overrides --runs/--duration)"
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        default=15,
        help="seconds to wait for a server to answer (default 15)",
    )
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="wrk binary")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON output file (default: benchmarks/results/wsgi-<time>.json)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.duration = 1, 3
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        p.error(f"unknown target(s): {', '.join(unknown)}; choose from " + ", ".join(TARGETS))
    args.target_names = names
    if not 1 <= args.runs <= 100 or not 0 < args.duration <= 600:
        p.error("--runs must be 1..100 and --duration 0..600 s")
    if not 0 <= args.warmup <= 600 or not 0 < args.startup_timeout <= 300:
        p.error("--warmup must be 0..600 s and --startup-timeout 0..300 s")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return a process exit code."""
    args = parse_args(argv)
    if not shutil.which(args.wrk):
        print("wrk not found: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    # bench_hello.granian_cmd() looks granian up on PATH: put this interpreter's
    # scripts first so a venv's granian wins over, e.g., a pyenv shim, even when
    # the venv is not activated. The servers inherit the same PATH.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"wsgi-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    if load[0] > 0.5:
        print(
            f"warning: load average {load[0]:.2f}; other work on this machine "
            "will skew the numbers",
            file=sys.stderr,
        )
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
        f"x {args.runs} run(s), {args.warmup:g} s warm-up; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    results: list[TargetResult] = []
    for name in args.target_names:
        print(f"{name}: starting", flush=True)
        res = bench_target(TARGETS[name], args, log_dir)
        if res.status != "ok":
            print(f"  {name}: {res.status}: {res.error}", flush=True)
            log_tail = tail(res.server_log)
            if log_tail:
                print(log_tail, flush=True)
        results.append(res)

    table = format_table(results)
    print()
    print(table)

    vers = versions(args.wrk)
    for dist in ("gunicorn", "waitress"):
        try:
            vers[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            vers[dist] = None
    report: dict[str, Any] = {
        "benchmark": "wsgi",
        "timestamp": stamp,
        "app": APP,
        "settings": {
            "runs": args.runs,
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "warmup_s": args.warmup,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load,
        },
        "versions": vers,
        "results": [asdict(r) for r in results],
        "table": table,
    }
    out = args.output or RESULTS_DIR / f"wsgi-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
