#!/usr/bin/env python3
"""HTTPS hello-world benchmark, HTTP/1.1 (wrk) and HTTP/2 (h2load): cherrypy_rs vs granian.

Every target serves ``GET /`` -> ``Hello, world!`` over TLS with the same certificate
and key (ECDSA P-256, made by ``trustme`` in a temporary directory at start; the key is
PKCS#8 because granian reads no other format), one worker process on 127.0.0.1:

- ``https1``: ``wrk -t{threads} -c{conns}`` against ``https://`` (wrk offers no ALPN, so
  the servers speak HTTP/1.1 over TLS 1.3);
- ``h2``: ``h2load -t{threads} -c{conns} -m{streams} -D{secs}`` (ALPN ``h2``).

The mechanics come from ``bench_hello.py`` (free port, CPU accounting over the server's
process tree from ``/proc``, stop by PID, wrk output parsing, the table): only the
readiness probe (HTTPS) and the h2load runner are this file's. Reported: median req/s
and server CPU µs per request per (target, protocol), with the ratio against granian
(default threads) for the same protocol. JSON goes to ``benchmarks/results/tls-*.json``.

Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time.

Examples::

    python benchmarks/bench_tls.py
    python benchmarks/bench_tls.py --quick --targets cherrypy_rs-wsgi,granian --protocols h2
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
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
from bench_hello import (
    APPS_DIR,
    EXPECTED_BODY,
    HOST,
    RESULTS_DIR,
    TargetResult,
    WrkRun,
    free_port,
    parse_wrk,
    stop_process,
    tail,
    tree_cpu_seconds,
)

PROTOCOLS = ("https1", "h2")
GRANIAN_REF = "granian"


@dataclass(frozen=True)
class Files:
    """The certificate, key and CA of this run, and the cherrypy_rs config file."""

    cert: str
    key: str
    ca: str
    config: str


@dataclass(frozen=True)
class TLSTarget:
    """A server to benchmark over TLS."""

    name: str
    description: str
    command: Callable[[int, Files], list[str]]


def _cherrypy_rs(port: int, files: Files, *command: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cherrypy_rs",
        *command,
        "--bind",
        f"{HOST}:{port}",
        "--certfile",
        files.cert,
        "--keyfile",
        files.key,
    ]


def cmd_cherrypy_rs_wsgi(port: int, files: Files) -> list[str]:
    """The bare WSGI hello on cherrypy_rs's gateway, one handler thread."""
    return _cherrypy_rs(port, files, "wsgi", "hello_wsgi:app", "--threads", "1")


def cmd_cherrypy_rs_app(port: int, files: Files) -> list[str]:
    """The CherryPy-style hello app (``hello_cherrypy_rs:Root``), default 10 threads,
    with the production-like settings of ``hello_cherrypy_rs.py`` from a config file."""
    return _cherrypy_rs(port, files, "run", "hello_cherrypy_rs:Root", "--config", files.config)


def _granian(port: int, files: Files, *extra: str) -> list[str]:
    base = bench_hello.cmd_granian(port)
    app = base.pop()
    base[base.index("--http") + 1] = "auto"
    return [
        *base,
        "--ssl-certificate",
        files.cert,
        "--ssl-keyfile",
        files.key,
        "--ssl-protocol-min",
        "tls1.2",
        *extra,
        app,
    ]


def cmd_granian(port: int, files: Files) -> list[str]:
    """granian WSGI, default blocking threads, HTTP auto (ALPN)."""
    return _granian(port, files)


def cmd_granian_1thread(port: int, files: Files) -> list[str]:
    """The same with one blocking thread."""
    return _granian(port, files, "--blocking-threads", "1")


TARGETS: dict[str, TLSTarget] = {
    t.name: t
    for t in (
        TLSTarget(
            "cherrypy_rs-wsgi", "cherrypy_rs wsgi hello_wsgi:app --threads 1", cmd_cherrypy_rs_wsgi
        ),
        TLSTarget("cherrypy_rs-app", "cherrypy_rs run (CherryPy-style app)", cmd_cherrypy_rs_app),
        TLSTarget("granian", "granian WSGI, default threads", cmd_granian),
        TLSTarget("granian-1thread", "granian WSGI, --blocking-threads 1", cmd_granian_1thread),
    )
}

CONFIG = """[global]
server.socket_queue_size = 128
log.screen = False
log.access_file = ''
log.error_file = ''
engine.autoreload.on = False
checker.on = False
request.show_tracebacks = False
"""


def make_files(directory: Path) -> Files:
    """A CA and a 127.0.0.1 certificate with a PKCS#8 key, written under ``directory``."""
    import trustme
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    leaf = ca.issue_cert(HOST, "localhost")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    paths = {name: directory / name for name in ("cert.pem", "key.pem", "ca.pem", "app.conf")}
    paths["cert.pem"].write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    paths["key.pem"].write_bytes(pkcs8)
    paths["ca.pem"].write_bytes(ca.cert_pem.bytes())
    paths["app.conf"].write_text(CONFIG)
    return Files(*(str(paths[n]) for n in ("cert.pem", "key.pem", "ca.pem", "app.conf")))


def probe(port: int, ctx: ssl.SSLContext, timeout: float = 1.0) -> bool:
    """Whether ``GET /`` over HTTPS answers 200 with the hello body."""
    conn = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=ctx)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status == 200 and resp.read().strip() == EXPECTED_BODY
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_ready(
    proc: subprocess.Popen[bytes], port: int, ctx: ssl.SSLContext, timeout: float
) -> str | None:
    """Poll until the server answers over HTTPS; None when ready, else the reason."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.1) + 10):
        if proc.poll() is not None:
            return f"process exited with code {proc.returncode}"
        if probe(port, ctx):
            return None
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return f"no correct HTTPS answer on port {port} within {timeout:.0f} s"


def run_wrk(args: argparse.Namespace, port: int, secs: float) -> WrkRun:
    """wrk over TLS (HTTP/1.1)."""
    cmd = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{secs:g}s",
        "--latency",
        f"https://{HOST}:{port}/",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"wrk exited {out.returncode}: {out.stderr.strip()}")
    return parse_wrk(out.stdout)


def parse_h2load(output: str) -> WrkRun:
    """The figures of h2load's summary: duration, req/s, succeeded, failed, 2xx."""
    m_done = re.search(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", output)
    m_req = re.search(
        r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        output,
    )
    m_status = re.search(r"status codes: (\d+) 2xx", output)
    if not m_done or not m_req or not m_status:
        raise ValueError("could not parse h2load output:\n" + output)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m_done.group(2)]
    succeeded = int(m_req.group(3))
    return WrkRun(
        requests=succeeded,
        duration_s=float(m_done.group(1)) * scale,
        requests_per_s=float(m_done.group(3)),
        socket_errors=int(m_req.group(4)) + int(m_req.group(5)) + int(m_req.group(6)),
        non_2xx=succeeded - int(m_status.group(1)),
    )


def run_h2load(args: argparse.Namespace, port: int, secs: float) -> WrkRun:
    """h2load over TLS with ALPN h2."""
    cmd = [
        args.h2load,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-m{args.streams}",
        f"-D{max(1, round(secs))}",
        f"https://{HOST}:{port}/",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"h2load exited {out.returncode}: {out.stderr.strip() or out.stdout}")
    run = parse_h2load(out.stdout)
    if "h2" not in out.stdout.split("Application protocol:")[-1][:8]:
        raise RuntimeError("h2load did not negotiate h2:\n" + out.stdout)
    return run


RUNNERS: dict[str, Callable[[argparse.Namespace, int, float], WrkRun]] = {
    "https1": run_wrk,
    "h2": run_h2load,
}


def bench(
    target: TLSTarget, protocol: str, args: argparse.Namespace, files: Files, log_dir: Path
) -> TargetResult:
    """Start, measure and stop one target for one protocol; never raises for server failures."""
    port = free_port()
    cmd = target.command(port, files)
    name = f"{target.name} {protocol}"
    result = TargetResult(name, target.description, cmd)
    log_path = log_dir / f"{target.name}-{protocol}.log"
    result.server_log = str(log_path)
    ctx = ssl.create_default_context(cafile=files.ca)
    runner = RUNNERS[protocol]
    with log_path.open("wb") as log:
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd, cwd=APPS_DIR, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            result.status, result.error = "failed to start", str(exc)
            return result
        try:
            reason = wait_ready(proc, port, ctx, args.startup_timeout)
            if reason is not None:
                result.status, result.error = "failed to start", reason
                return result
            result.startup_s = round(time.monotonic() - t0, 3)
            if args.warmup > 0:
                runner(args, port, args.warmup)
            for i in range(args.runs):
                cpu0 = tree_cpu_seconds(proc.pid)
                run = runner(args, port, args.duration)
                run.cpu_s = round(tree_cpu_seconds(proc.pid) - cpu0, 3)
                if run.requests:
                    run.cpu_us_per_request = round(run.cpu_s / run.requests * 1e6, 2)
                result.runs.append(run)
                print(
                    f"  {name} run {i + 1}/{args.runs}: {run.requests_per_s:,.0f} req/s, "
                    f"{run.cpu_us_per_request} us CPU/req, "
                    f"errors={run.socket_errors} non2xx={run.non_2xx}",
                    flush=True,
                )
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with code {proc.returncode}")
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            result.status, result.error = "error", str(exc)
        finally:
            stop_process(proc)
    if result.runs:
        result.rps_median = statistics.median(r.requests_per_s for r in result.runs)
        cpus = [r.cpu_us_per_request for r in result.runs if r.cpu_us_per_request is not None]
        result.cpu_us_per_request = statistics.median(cpus) if cpus else None
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default=",".join(TARGETS), help="subset of: " + ", ".join(TARGETS))
    p.add_argument("--protocols", default=",".join(PROTOCOLS), help="https1, h2 or both")
    p.add_argument("--runs", type=int, default=3, help="measured runs (default 3)")
    p.add_argument("--duration", type=float, default=10, help="seconds per run (default 10)")
    p.add_argument("--connections", "-c", type=int, default=50, help="connections (default 50)")
    p.add_argument("--streams", "-m", type=int, default=10, help="h2load streams per connection")
    p.add_argument("--threads", "-t", type=int, default=1, help="client threads (default 1)")
    p.add_argument("--warmup", type=float, default=2, help="warm-up seconds (default 2)")
    p.add_argument("--quick", action="store_true", help="one 3 s run per target and protocol")
    p.add_argument("--startup-timeout", type=float, default=15)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--h2load", default=shutil.which("h2load") or "h2load")
    p.add_argument("--output", type=Path, default=None, help="JSON output file")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.duration = 1, 3
    args.target_names = [n for n in args.targets.split(",") if n]
    args.protocol_names = [n for n in args.protocols.split(",") if n]
    bad = [n for n in args.target_names if n not in TARGETS]
    bad += [n for n in args.protocol_names if n not in PROTOCOLS]
    if bad:
        p.error(f"unknown target(s) or protocol(s): {', '.join(bad)}")
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
    # granian comes from this interpreter's environment, as in bench_wsgi.py.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"tls-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    if load[0] > 0.5:
        print(f"warning: load average {load[0]:.2f} will skew the numbers", file=sys.stderr)
    results: list[TargetResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        files = make_files(Path(tmp))
        for protocol in args.protocol_names:
            for name in args.target_names:
                print(f"{name} {protocol}: starting", flush=True)
                res = bench(TARGETS[name], protocol, args, files, log_dir)
                if res.status != "ok":
                    print(f"  {res.name}: {res.status}: {res.error}\n{tail(res.server_log)}")
                results.append(res)
    tables = []
    for protocol in args.protocol_names:
        rows = [r for r in results if r.name.endswith(f" {protocol}")]
        references = ((f"{GRANIAN_REF} {protocol}", "vs granian"),)
        tables.append(bench_hello.format_table(rows, references))
    table = "\n\n".join(tables)
    print()
    print(table)
    vers = bench_hello.versions(args.wrk)
    h2load_version = subprocess.run(
        [args.h2load, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout.strip()
    vers["h2load"] = h2load_version or None
    report: dict[str, Any] = {
        "benchmark": "tls",
        "timestamp": stamp,
        "settings": {
            "runs": args.runs,
            "duration_s": args.duration,
            "connections": args.connections,
            "h2_streams_per_connection": args.streams,
            "client_threads": args.threads,
            "warmup_s": args.warmup,
            "certificate": "ECDSA P-256 (trustme), PKCS#8 key",
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
    out = args.output or RESULTS_DIR / f"tls-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
