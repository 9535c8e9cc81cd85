#!/usr/bin/env python3
"""HTTP/2 and TLS throughput, side by side with granian ``--blocking-threads 1``.

The rows of issue 20, each measured against granian in the same invocation, the runs of
the two servers alternating (A B A B ...) so that a change in the machine's load touches
both alike:

- ``h2-tls-m10``: h2load over TLS (ALPN ``h2``), 10 streams per connection;
- ``h2c-m10``: h2load over plain TCP with prior knowledge (h2c), 10 streams per connection;
- ``h2c-m1``: the same with 1 stream per connection;
- ``https1``: wrk, HTTP/1.1 over TLS (wrk offers no ALPN);
- ``app-h2-tls-m10``: the CherryPy-style hello app (``hello_cherrypy_rs:Root``) over TLS
  HTTP/2, against CherryPy 18's own Application on granian (``tools_app:wsgi``).

The WSGI rows serve ``hello_wsgi:app`` with one Python thread on both sides
(``cherrypy-rs wsgi --threads 1``, granian ``--blocking-threads 1``). Load: ``-c16 -t1``
(h2load and wrk), as the issue measured. Reported per row and server: median req/s and
server CPU µs per request (from ``/proc``, the server's process tree), and the ratio to
granian. Certificates (ECDSA P-256, PKCS#8 key) are made by ``trustme`` at start.

Only 127.0.0.1 is contacted; every server is stopped by PID; every loop is bounded.

Examples::

    python benchmarks/bench_h2.py                      # 5 x 5 s per row and server
    python benchmarks/bench_h2.py --quick --rows h2c-m10,h2-tls-m10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
import bench_tls
from bench_hello import (
    APPS_DIR,
    HOST,
    RESULTS_DIR,
    TargetResult,
    WrkRun,
    free_port,
    stop_process,
    tail,
    tree_cpu_seconds,
)
from bench_tls import Files, make_files, parse_h2load


@dataclass(frozen=True)
class Row:
    """One line of the issue's table: a protocol, a load, and the two servers."""

    name: str
    title: str
    tls: bool
    #: Streams per connection for h2load; 0 for wrk (HTTP/1.1).
    streams: int
    #: "wsgi" (hello_wsgi:app on both sides) or "app" (a CherryPy-style app).
    app: str = "wsgi"


ROWS: dict[str, Row] = {
    r.name: r
    for r in (
        Row("h2-tls-m10", "HTTP/2 over TLS (ALPN), 10 streams per connection", True, 10),
        Row("h2c-m10", "h2c, 10 streams per connection", False, 10),
        Row("h2c-m1", "h2c, 1 stream per connection", False, 1),
        Row("https1", "HTTP/1.1 over TLS", True, 0),
        Row("app-h2-tls-m10", "CherryPy app, HTTP/2 over TLS, 10 streams", True, 10, "app"),
    )
}


def cmd_cherrypy_rs(row: Row, port: int, files: Files) -> list[str]:
    """cherrypy_rs: the WSGI hello with one thread, or the CherryPy-style app."""
    if row.app == "wsgi":
        command = ["wsgi", "hello_wsgi:app", "--threads", "1"]
    else:
        command = ["run", "hello_cherrypy_rs:Root", "--config", files.config]
    cmd = [sys.executable, "-m", "cherrypy_rs", *command, "--bind", f"{HOST}:{port}"]
    if row.tls:
        cmd += ["--certfile", files.cert, "--keyfile", files.key]
    else:
        cmd.append("--http2")
    return cmd


def cmd_granian(row: Row, port: int, files: Files) -> list[str]:
    """granian, HTTP auto (ALPN over TLS, prior-knowledge detection on TCP), one blocking
    thread: the WSGI hello, or CherryPy 18's Application (``tools_app:wsgi``)."""
    base = bench_hello.cmd_granian_1thread(port)
    app = base.pop()
    base[base.index("--http") + 1] = "auto"
    if row.tls:
        base += [
            "--ssl-certificate",
            files.cert,
            "--ssl-keyfile",
            files.key,
            "--ssl-protocol-min",
            "tls1.2",
        ]
    return [*base, app if row.app == "wsgi" else "tools_app:wsgi"]


SERVERS: dict[str, Callable[[Row, int, Files], list[str]]] = {
    "cherrypy_rs": cmd_cherrypy_rs,
    "granian": cmd_granian,
}


def ready(row: Row, port: int, ctx: ssl.SSLContext) -> bool:
    """Whether ``GET /`` answers the hello body (over HTTPS for the TLS rows)."""
    return bench_tls.probe(port, ctx) if row.tls else bench_hello.probe(port)


def run_load(row: Row, args: argparse.Namespace, port: int, secs: float) -> WrkRun:
    """One measurement: h2load for the HTTP/2 rows, wrk for HTTP/1.1 over TLS."""
    scheme = "https" if row.tls else "http"
    url = f"{scheme}://{HOST}:{port}/"
    if row.streams == 0:
        cmd = [args.wrk, "-t1", f"-c{args.connections}", f"-d{secs:g}s", "--latency", url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"wrk exited {out.returncode}: {out.stderr.strip()}")
        return bench_hello.parse_wrk(out.stdout)
    cmd = [
        args.h2load,
        "-t1",
        f"-c{args.connections}",
        f"-m{row.streams}",
        f"-D{max(1, round(secs))}",
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"h2load exited {out.returncode}: {out.stderr.strip() or out.stdout}")
    negotiated = out.stdout.split("Application protocol:")[-1].split()[:1]
    if negotiated != (["h2"] if row.tls else ["h2c"]):
        raise RuntimeError(f"h2load did not speak HTTP/2 ({negotiated}):\n{out.stdout}")
    return parse_h2load(out.stdout)


@dataclass
class Live:
    """A started server of one row."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    result: TargetResult


def start(row: Row, name: str, files: Files, log_dir: Path, args: argparse.Namespace) -> Live:
    """Start one server for `row` and wait until it answers; raises on failure."""
    port = free_port()
    if name in args.variants:
        # Another build of cherrypy_rs: its package directory first on the import path.
        cmd = ["env", f"PYTHONPATH={args.variants[name]}", *cmd_cherrypy_rs(row, port, files)]
    else:
        cmd = SERVERS[name](row, port, files)
    result = TargetResult(f"{name} {row.name}", " ".join(cmd[:6]), cmd)
    log_path = log_dir / f"{row.name}-{name}.log"
    result.server_log = str(log_path)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=APPS_DIR, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    live = Live(name, proc, port, result)
    ctx = ssl.create_default_context(cafile=files.ca)
    t0 = time.monotonic()
    deadline = t0 + args.startup_timeout
    for _ in range(int(args.startup_timeout / 0.1) + 10):
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode}\n{tail(str(log_path))}")
        if ready(row, port, ctx):
            result.startup_s = round(time.monotonic() - t0, 3)
            return live
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{name} gave no correct answer on port {port}\n{tail(str(log_path))}")


def measure(row: Row, live: Live, args: argparse.Namespace, index: int) -> None:
    """One measured run of `live`, its CPU taken from /proc around it."""
    cpu0 = tree_cpu_seconds(live.proc.pid)
    run = run_load(row, args, live.port, args.duration)
    run.cpu_s = round(tree_cpu_seconds(live.proc.pid) - cpu0, 3)
    if run.requests:
        run.cpu_us_per_request = round(run.cpu_s / run.requests * 1e6, 2)
    live.result.runs.append(run)
    print(
        f"  {live.result.name} run {index + 1}/{args.runs}: {run.requests_per_s:,.0f} req/s, "
        f"{run.cpu_us_per_request} us CPU/req, errors={run.socket_errors} "
        f"non2xx={run.non_2xx}, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if live.proc.poll() is not None:
        raise RuntimeError(f"{live.name} exited with code {live.proc.returncode}")


def bench_row(
    row: Row, args: argparse.Namespace, files: Files, log_dir: Path
) -> list[TargetResult]:
    """Both servers of `row`, started together (idle servers cost nothing), their runs
    alternating; always stops what it started."""
    lives: list[Live] = []
    try:
        for name in [*SERVERS, *args.variants]:
            lives.append(start(row, name, files, log_dir, args))
        for live in lives:
            if args.warmup > 0:
                run_load(row, args, live.port, args.warmup)
        for i in range(args.runs):
            for live in lives if i % 2 == 0 else reversed(lives):
                measure(row, live, args, i)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"  {row.name}: {exc}", file=sys.stderr)
        for live in lives:
            live.result.status, live.result.error = "error", str(exc)
    finally:
        for live in lives:
            stop_process(live.proc)
    results = []
    for live in lives:
        r = live.result
        if r.runs:
            r.rps_median = statistics.median(x.requests_per_s for x in r.runs)
            cpus = [x.cpu_us_per_request for x in r.runs if x.cpu_us_per_request is not None]
            r.cpu_us_per_request = statistics.median(cpus) if cpus else None
        results.append(r)
    return results


def summary(rows: list[Row], results: list[TargetResult], variants: list[str] = ()) -> str:
    """The issue's table: one line per row and cherrypy_rs build (and variant), with
    granian's figures and the ratio."""
    by_name = {r.name: r for r in results}
    lines = [
        "| protocol | cherrypy_rs req/s | µs CPU/req | granian -b1 req/s | µs CPU/req | ratio |",
        "|---|---|---|---|---|---|",
    ]

    def cell(r: TargetResult | None) -> tuple[str, str]:
        if r is None or r.rps_median is None:
            return ("n/a", "n/a")
        cpu = "n/a" if r.cpu_us_per_request is None else f"{r.cpu_us_per_request:.1f}"
        return (f"{r.rps_median / 1000:.1f}k", cpu)

    for row in rows:
        theirs = by_name.get(f"granian {row.name}")
        for name in ("cherrypy_rs", *variants):
            ours = by_name.get(f"{name} {row.name}")
            (a, a_cpu), (b, b_cpu) = cell(ours), cell(theirs)
            ratio = bench_hello.ratio(ours.rps_median if ours else None, theirs)
            title = row.title if name == "cherrypy_rs" else f"{row.title} [{name}]"
            lines.append(f"| {title} | {a} | {a_cpu} | {b} | {b_cpu} | {ratio} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=",".join(ROWS), help="subset of: " + ", ".join(ROWS))
    p.add_argument("--runs", type=int, default=5, help="measured runs per server (default 5)")
    p.add_argument("--duration", type=float, default=5, help="seconds per run (default 5)")
    p.add_argument("--connections", "-c", type=int, default=16, help="connections (default 16)")
    p.add_argument("--warmup", type=float, default=2, help="warm-up seconds (default 2)")
    p.add_argument("--quick", action="store_true", help="two 3 s runs per server and row")
    p.add_argument("--startup-timeout", type=float, default=20)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--h2load", default=shutil.which("h2load") or "h2load")
    p.add_argument("--output", type=Path, default=None, help="JSON output file")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also measure the cherrypy_rs package found in DIR (another build, for A/B in "
        "the same run), reported as NAME; repeatable",
    )
    args = p.parse_args(argv)
    args.variants = {}
    for spec in args.variant:
        name, sep, directory = spec.partition("=")
        if not sep or not name or not (Path(directory) / "cherrypy_rs").is_dir():
            p.error(f"--variant {spec!r}: expected NAME=DIR with DIR/cherrypy_rs")
        args.variants[name] = str(Path(directory).resolve())
    if args.quick:
        args.runs, args.duration, args.warmup = 2, 3, 1
    args.row_names = [n for n in args.rows.split(",") if n]
    bad = [n for n in args.row_names if n not in ROWS]
    if bad:
        p.error(f"unknown row(s): {', '.join(bad)}")
    if not 1 <= args.runs <= 100 or not 0 < args.duration <= 600:
        p.error("--runs must be 1..100 and --duration 0..600 s")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return a process exit code."""
    args = parse_args(argv)
    for tool, package in ((args.wrk, "wrk"), (args.h2load, "nghttp2-client")):
        if not shutil.which(tool):
            print(f"{tool} not found: apt-get install -y {package}", file=sys.stderr)
            return 2
    # granian comes from this interpreter's environment.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"h2-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(f"warning: load average {load_before[0]:.2f} will skew the numbers", file=sys.stderr)
    rows = [ROWS[n] for n in args.row_names]
    results: list[TargetResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-h2-") as tmp:
        files = make_files(Path(tmp))
        for row in rows:
            print(f"{row.name}: {row.title}", flush=True)
            results += bench_row(row, args, files, log_dir)
    table = summary(rows, results, list(args.variants))
    print()
    print(table)
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    vers = bench_hello.versions(args.wrk)
    vers["h2load"] = (
        subprocess.run(
            [args.h2load, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        or None
    )
    report: dict[str, Any] = {
        "benchmark": "h2",
        "timestamp": stamp,
        "settings": {
            "runs": args.runs,
            "duration_s": args.duration,
            "connections": args.connections,
            "client_threads": 1,
            "warmup_s": args.warmup,
            "certificate": "ECDSA P-256 (trustme), PKCS#8 key",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "versions": vers,
        "rows": [asdict(r) for r in rows],
        "results": [asdict(r) for r in results],
        "table": table,
    }
    out = args.output or RESULTS_DIR / f"h2-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
