#!/usr/bin/env python3
"""Static-file benchmark: cherrypy_rs (CLI and tools.staticdir) vs CherryPy 18 vs nginx.

Three files of 1 KiB, 100 KiB and 10 MiB (deterministic pseudo-random bytes,
``.bin`` = ``application/octet-stream`` everywhere) are written to a temporary
directory, and every target serves that directory from one process (one worker) on a
free 127.0.0.1 port. Each target is started once, every file is fetched and checked
(status 200, Content-Length, the bytes themselves), then for each file ``wrk
--latency`` runs a warm-up and a number of measured runs. Reported per file size:
median requests/s, MB/s (req/s x file size, 1 MB = 10^6 bytes), the server's CPU time
per request (utime+stime of the server process and all its descendants, from
``/proc``), p50/p99 latency, errors, and ratios against nginx and CherryPy. Results
are also written as JSON to ``benchmarks/results/``.

The mechanics (free port, readiness polling, wrk runs and parsing, CPU accounting
over the process tree, stop by PID) are those of ``bench_hello.py``, imported from it.

Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time.

Examples::

    python benchmarks/bench_static.py
    python benchmarks/bench_static.py --quick --targets cherrypy_rs-cli,nginx --sizes small
    python benchmarks/bench_static.py --connections small=100,medium=50,large=4
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
from bench_hello import (
    APPS_DIR,
    CLK_TCK,
    HOST,
    RESULTS_DIR,
    WrkRun,
    descendants,
    free_port,
    run_wrk,
    stop_process,
    tail,
    tree_cpu_seconds,
    wait_ready,
)

#: Size name -> bytes. Files up to 1 MiB are held in memory by cherrypy_rs's file
#: cache; the 10 MiB one is read from an open descriptor per request.
SIZES: dict[str, int] = {"small": 1024, "medium": 100 * 1024, "large": 10 * 1024 * 1024}
#: wrk connections per size: fewer for the large file, so time and memory stay bounded.
DEFAULT_CONNECTIONS: dict[str, int] = {"small": 50, "medium": 50, "large": 8}
#: Seed of the file contents (the same bytes in every invocation).
SEED = 3
#: Content type every server gives ``.bin``.
CONTENT_TYPE = "application/octet-stream"
#: Seconds to wait before measuring again after a disturbed run.
RETRY_PAUSE_S = 5.0
#: Per-request timeout of wrk: a 10 MiB response from a slow server takes a while.
WRK_TIMEOUT = "10s"

NGINX_REF = "nginx"
NGINX_OFC_REF = "nginx-ofc"
CHERRYPY_REF = "cherrypy"
#: req/s ratios against these targets (same file, same invocation).
REFERENCES = (
    (NGINX_REF, "vs nginx"),
    (NGINX_OFC_REF, "vs nginx-ofc"),
    (CHERRYPY_REF, "vs CherryPy"),
)
#: CPU-per-request ratios against these (issue 19: at most 1.2x nginx's on 10 MiB).
CPU_REFERENCES = ((NGINX_REF, "CPU vs nginx"), (NGINX_OFC_REF, "CPU vs nginx-ofc"))


def file_name(size: str) -> str:
    """Name of the file of a size class, e.g. ``small.bin``."""
    return f"{size}.bin"


def make_files(directory: Path, sizes: Sequence[str]) -> dict[str, str]:
    """Write the benchmark files into ``directory``; return size name -> sha256.

    The directory and files are made world-readable: nginx's worker process runs as
    an unprivileged user when the master runs as root.
    """
    digests: dict[str, str] = {}
    for name in sizes:
        data = random.Random(f"{SEED}-{name}").randbytes(SIZES[name])
        path = directory / file_name(name)
        path.write_bytes(data)
        path.chmod(0o644)
        digests[name] = hashlib.sha256(data).hexdigest()
    directory.chmod(0o755)
    return digests


# --------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A static-file server to benchmark.

    ``command(port, files, scratch)`` returns the command line serving directory
    ``files`` on 127.0.0.1:port; ``scratch`` is a private empty directory for the
    target's own files (nginx's configuration, pid file and error log). A file named
    ``N`` is at URL ``url_prefix + "/" + N``.
    """

    name: str
    description: str
    command: Callable[[int, Path, Path], list[str]]
    url_prefix: str = ""


def cmd_cherrypy_rs_cli(port: int, files: Path, _scratch: Path) -> list[str]:
    """``cherrypy-rs static DIR`` with its defaults (no access log)."""
    return [sys.executable, "-m", "cherrypy_rs", "static", str(files), "--bind", f"{HOST}:{port}"]


def cmd_cherrypy_rs_staticdir(port: int, files: Path, _scratch: Path) -> list[str]:
    """The CherryPy app with ``tools.staticdir`` on cherrypy_rs."""
    return [sys.executable, str(APPS_DIR / "static_cherrypy_rs.py"), str(port), str(files)]


def cmd_cherrypy(port: int, files: Path, _scratch: Path) -> list[str]:
    """The same CherryPy app on CherryPy 18 (cheroot)."""
    return [sys.executable, str(APPS_DIR / "static_cherrypy.py"), str(port), str(files)]


def nginx_binary() -> str | None:
    """The nginx executable (PATH, then /usr/sbin), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def nginx_config(port: int, files: Path, scratch: Path, open_file_cache: bool) -> str:
    """An nginx configuration: defaults plus one worker, sendfile, no access log."""
    ofc = "    open_file_cache max=1000 inactive=20s;\n" if open_file_cache else ""
    temp = "\n".join(
        f"    {kind}_temp_path {scratch / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
# Written by benchmarks/bench_static.py; nginx defaults except what is set here.
worker_processes 1;
pid {scratch / "nginx.pid"};
error_log {scratch / "error.log"} warn;

events {{
}}

http {{
    types {{
        {CONTENT_TYPE} bin;
    }}
    default_type {CONTENT_TYPE};
    sendfile on;
    tcp_nopush on;
    access_log off;
{ofc}{temp}

    server {{
        listen {HOST}:{port};
        server_name localhost;
        root {files};
    }}
}}
"""


def _nginx(port: int, files: Path, scratch: Path, open_file_cache: bool) -> list[str]:
    exe = nginx_binary()
    if exe is None:
        raise FileNotFoundError("nginx not found: apt-get update && apt-get install -y nginx")
    conf = scratch / "nginx.conf"
    conf.write_text(nginx_config(port, files, scratch, open_file_cache))
    return [
        exe,
        "-p",
        f"{scratch}/",
        "-c",
        str(conf),
        "-e",
        str(scratch / "error.log"),
        "-g",
        "daemon off;",
    ]


def cmd_nginx(port: int, files: Path, scratch: Path) -> list[str]:
    """nginx, 1 worker, sendfile on, tcp_nopush on, no access log."""
    return _nginx(port, files, scratch, open_file_cache=False)


def cmd_nginx_ofc(port: int, files: Path, scratch: Path) -> list[str]:
    """The same nginx with ``open_file_cache max=1000 inactive=20s``."""
    return _nginx(port, files, scratch, open_file_cache=True)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("cherrypy_rs-cli", "cherrypy-rs static DIR (Rust only)", cmd_cherrypy_rs_cli),
        Target(
            "cherrypy_rs-staticdir",
            "CherryPy app, tools.staticdir, on cherrypy_rs",
            cmd_cherrypy_rs_staticdir,
            "/static",
        ),
        Target("cherrypy", "the same app on CherryPy 18 / cheroot", cmd_cherrypy, "/static"),
        Target("nginx", "nginx, 1 worker, sendfile on, tcp_nopush on", cmd_nginx),
        Target("nginx-ofc", "the same nginx + open_file_cache max=1000", cmd_nginx_ofc),
    )
}


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def fetch(port: int, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """GET 127.0.0.1:port{path}; return (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def answers(port: int, path: str) -> bool:
    """True if GET path answers 200: the readiness check."""
    try:
        return fetch(port, path, timeout=1.0)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def verify(port: int, path: str, size: int, digest: str) -> tuple[str | None, dict[str, str]]:
    """Check one file: 200, Content-Length, the bytes. Return (problem or None, headers)."""
    try:
        status, headers, body = fetch(port, path)
    except (OSError, http.client.HTTPException) as exc:
        return f"GET {path}: {exc!r}", {}
    if status != 200:
        return f"GET {path}: status {status}", headers
    if headers.get("content-length") != str(size):
        return (
            f"GET {path}: Content-Length {headers.get('content-length')!r}, expected {size}",
            headers,
        )
    if len(body) != size or hashlib.sha256(body).hexdigest() != digest:
        return f"GET {path}: {len(body)} bytes, not the file's content", headers
    return None, headers


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all CPUs, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def children_cpu_seconds() -> float:
    """CPU seconds of this process's waited-for children (wrk, once it has exited)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def tree_rss_kib(root: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB summed over root and its descendants."""
    rss = hwm = 0
    for pid in descendants(root):
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm += int(line.split()[1])
    return rss, hwm


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


@dataclass
class SizeResult:
    """Outcome of one target on one file."""

    size: str
    bytes: int
    path: str
    connections: int
    status: str = "ok"
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    runs: list[WrkRun] = field(default_factory=list)
    rps_median: float | None = None
    mb_per_s: float | None = None
    cpu_us_per_request: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    socket_errors: int = 0
    non_2xx: int = 0
    rss_kib_after: int | None = None
    rss_hwm_kib_after: int | None = None
    loadavg_before: tuple[float, float, float] | None = None
    #: Per run: CPU seconds used by anything but the server and wrk, over the
    #: machine's capacity (duration x CPUs); the largest over the runs.
    other_cpu_share_max: float | None = None
    other_cpu_share: list[float] = field(default_factory=list)
    #: Runs measured while other work took more than --max-other-cpu of the machine.
    discarded_runs: list[WrkRun] = field(default_factory=list)
    discarded_other_cpu_share: list[float] = field(default_factory=list)


@dataclass
class TargetResult:
    """Outcome of one target over all sizes."""

    name: str
    description: str
    command: list[str]
    status: str = "ok"
    error: str | None = None
    startup_s: float | None = None
    loadavg_before: tuple[float, float, float] | None = None
    rss_kib_idle: int | None = None
    sizes: dict[str, SizeResult] = field(default_factory=dict)
    server_log: str | None = None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def measure_size(
    proc: subprocess.Popen[bytes],
    port: int,
    target: Target,
    res: SizeResult,
    args: argparse.Namespace,
) -> None:
    """Warm up, then run wrk ``args.runs`` times on one file, filling ``res``."""
    extra = ("--timeout", WRK_TIMEOUT)

    def wrk(secs: float) -> WrkRun:
        return run_wrk(
            args.wrk, port, args.threads, res.connections, secs, path=res.path, extra_args=extra
        )

    res.loadavg_before = os.getloadavg()
    if args.warmup > 0:
        wrk(args.warmup)
    ncpu = os.cpu_count() or 1
    kept: list[tuple[WrkRun, float]] = []
    noisy: list[tuple[WrkRun, float]] = []
    for attempt in range(args.runs + args.retries):
        if len(kept) >= args.runs:
            break
        if noisy and attempt >= args.runs:
            time.sleep(RETRY_PAUSE_S)
        busy0, wrk0, t0 = machine_busy_seconds(), children_cpu_seconds(), time.monotonic()
        cpu0 = tree_cpu_seconds(proc.pid)
        run = wrk(args.duration)
        run.cpu_s = round(tree_cpu_seconds(proc.pid) - cpu0, 3)
        elapsed = time.monotonic() - t0
        other = machine_busy_seconds() - busy0 - (children_cpu_seconds() - wrk0) - run.cpu_s
        share = round(max(other, 0.0) / (elapsed * ncpu), 3)
        if run.requests:
            run.cpu_us_per_request = round(run.cpu_s / run.requests * 1e6, 2)
        is_noisy = share > args.max_other_cpu
        (noisy if is_noisy else kept).append((run, share))
        print(
            f"  {target.name} {res.size} "
            f"{'discarded run' if is_noisy else f'run {len(kept)}/{args.runs}'}: "
            f"{run.requests_per_s:,.0f} req/s, "
            f"{run.requests_per_s * res.bytes / 1e6:,.1f} MB/s, "
            f"{run.cpu_us_per_request} us CPU/req, "
            f"p50 {run.latency_p50_ms} ms, p99 {run.latency_p99_ms} ms, "
            f"errors={run.socket_errors} non2xx={run.non_2xx}, "
            f"other CPU {share:.0%}",
            flush=True,
        )
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
    if len(kept) < args.runs:
        # Out of retries: keep the least disturbed of the noisy runs, and say so.
        noisy.sort(key=lambda rs: rs[1])
        missing = args.runs - len(kept)
        kept += noisy[:missing]
        noisy = noisy[missing:]
        res.status = "noisy"
    res.runs = [r for r, _ in kept]
    res.other_cpu_share = [sh for _, sh in kept]
    res.discarded_runs = [r for r, _ in noisy]
    res.discarded_other_cpu_share = [sh for _, sh in noisy]
    res.rps_median = statistics.median(r.requests_per_s for r in res.runs)
    res.mb_per_s = round(res.rps_median * res.bytes / 1e6, 1)
    res.cpu_us_per_request = _median([r.cpu_us_per_request for r in res.runs])
    res.latency_p50_ms = _median([r.latency_p50_ms for r in res.runs])
    res.latency_p99_ms = _median([r.latency_p99_ms for r in res.runs])
    res.socket_errors = sum(r.socket_errors for r in res.runs)
    res.non_2xx = sum(r.non_2xx for r in res.runs)
    res.other_cpu_share_max = max(res.other_cpu_share)
    res.rss_kib_after, res.rss_hwm_kib_after = tree_rss_kib(proc.pid)


def bench_target(
    target: Target,
    args: argparse.Namespace,
    files: Path,
    digests: dict[str, str],
    scratch: Path,
    log_dir: Path,
) -> TargetResult:
    """Start one target, check every file, measure every size, stop it by PID."""
    port = free_port()
    own = scratch / target.name
    own.mkdir()
    result = TargetResult(target.name, target.description, [])
    result.loadavg_before = os.getloadavg()
    for size in args.size_names:
        result.sizes[size] = SizeResult(
            size, SIZES[size], f"{target.url_prefix}/{file_name(size)}", args.conns[size]
        )
    try:
        result.command = target.command(port, files, own)
    except OSError as exc:
        result.status, result.error = "failed to start", str(exc)
        return result
    log_path = log_dir / f"{target.name}.log"
    result.server_log = str(log_path)
    first_path = next(iter(result.sizes.values())).path
    with log_path.open("wb") as log:
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                result.command,
                cwd=APPS_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            result.status, result.error = "failed to start", str(exc)
            return result
        try:
            reason = wait_ready(
                proc, port, args.startup_timeout, check=lambda p: answers(p, first_path)
            )
            if reason is not None:
                result.status, result.error = "failed to start", reason
                return result
            result.startup_s = round(time.monotonic() - t0, 3)
            result.rss_kib_idle = tree_rss_kib(proc.pid)[0]
            for res in result.sizes.values():
                problem, res.headers = verify(port, res.path, res.bytes, digests[res.size])
                if problem is not None:
                    res.status, res.error = "wrong answer", problem
                    print(f"  {target.name} {res.size}: {problem}", flush=True)
            for res in result.sizes.values():
                if res.status != "ok":
                    continue
                try:
                    measure_size(proc, port, target, res, args)
                except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                    res.status, res.error = "error", str(exc)
                    print(f"  {target.name} {res.size}: error: {exc}", flush=True)
                    if proc.poll() is not None:
                        result.status, result.error = "error", str(exc)
                        break
        finally:
            stop_process(proc)
    return result


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _ratio(value: float | None, ref: SizeResult | None) -> str:
    if value is None or ref is None or not ref.rps_median:
        return "n/a"
    return f"{value / ref.rps_median:.2f}x"


def _cpu_ratio(value: float | None, ref: SizeResult | None) -> str:
    if value is None or ref is None or not ref.cpu_us_per_request:
        return "n/a"
    return f"{value / ref.cpu_us_per_request:.2f}x"


def _render(header: Sequence[str], rows: list[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return lines


def _num(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _other_cpu(res: SizeResult) -> str:
    """The "other CPU" cell: worst share of the kept runs, discarded runs, noisy flag."""
    text = _num(res.other_cpu_share_max, ".0%")
    if res.discarded_runs:
        text += f" ({len(res.discarded_runs)} discarded)"
    if res.status == "noisy":
        text += " NOISY"
    return text


def format_tables(
    results: list[TargetResult], size_names: Sequence[str], conns: dict[str, int]
) -> str:
    """One fixed-width table per file size, a row per target."""
    by_name = {r.name: r for r in results}
    header = (
        "target",
        "req/s (median)",
        "MB/s",
        "us CPU/req",
        "p50 ms",
        "p99 ms",
        "errors/non-2xx",
        "other CPU",
        *(title for _, title in REFERENCES),
        *(title for _, title in CPU_REFERENCES),
    )
    out: list[str] = []
    for size in size_names:
        refs = [by_name[n].sizes.get(size) if n in by_name else None for n, _ in REFERENCES]
        cpu_refs = [by_name[n].sizes.get(size) if n in by_name else None for n, _ in CPU_REFERENCES]
        rows: list[Sequence[str]] = []
        for r in results:
            res = r.sizes.get(size)
            if res is None or res.rps_median is None:
                status = r.status if r.status != "ok" or res is None else res.status
                rows.append((r.name, status, *("" for _ in header[2:])))
                continue
            rows.append(
                (
                    r.name,
                    f"{res.rps_median:,.0f}",
                    f"{res.mb_per_s:,.1f}",
                    _num(res.cpu_us_per_request, ",.1f"),
                    _num(res.latency_p50_ms, ".2f"),
                    _num(res.latency_p99_ms, ".2f"),
                    f"{res.socket_errors}/{res.non_2xx}",
                    _other_cpu(res),
                    *(_ratio(res.rps_median, ref) for ref in refs),
                    *(_cpu_ratio(res.cpu_us_per_request, ref) for ref in cpu_refs),
                )
            )
        out.append(f"{size}: {file_name(size)}, {SIZES[size]:,} bytes, wrk -c{conns[size]}")
        out += _render(header, rows)
        out.append("")
    return "\n".join(out).rstrip()


def nginx_version() -> str | None:
    """``nginx -v`` (it prints to stderr), or None."""
    exe = nginx_binary()
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stderr or out.stdout).strip() or None


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_connections(spec: str) -> dict[str, int]:
    """``"small=50,large=8"`` (or one number for every size) over the defaults."""
    conns = dict(DEFAULT_CONNECTIONS)
    spec = spec.strip()
    if spec.isdigit():
        return dict.fromkeys(conns, int(spec))
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in SIZES or not value.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"bad --connections item {item!r}: SIZE=N with SIZE in {', '.join(SIZES)}"
            )
        conns[name.strip()] = int(value)
    return conns


def _names(p: argparse.ArgumentParser, value: str, choices: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        bad = ", ".join(unknown) or "(none)"
        p.error(f"unknown {what}: {bad}; choose from {', '.join(choices)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help="comma-separated subset of: " + ", ".join(TARGETS) + " (default: all)",
    )
    p.add_argument(
        "--sizes",
        default=",".join(SIZES),
        help="comma-separated subset of: "
        + ", ".join(f"{n} ({b:,} B)" for n, b in SIZES.items())
        + " (default: all)",
    )
    p.add_argument("--runs", type=int, default=3, help="measured wrk runs per file (default 3)")
    p.add_argument("--duration", type=float, default=8, help="seconds per measured run (default 8)")
    p.add_argument(
        "--connections",
        "-c",
        type=parse_connections,
        default=dict(DEFAULT_CONNECTIONS),
        help="wrk connections per size, SIZE=N,... or one N for all (default: "
        + ",".join(f"{n}={c}" for n, c in DEFAULT_CONNECTIONS.items())
        + ")",
    )
    p.add_argument("--threads", "-t", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument(
        "--warmup",
        type=float,
        default=2,
        help="warm-up seconds of wrk per file before measuring (default 2)",
    )
    p.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.15,
        help="discard a run when processes other than the server and wrk used more than "
        "this share of the machine's CPU during it (default 0.15; 1 keeps every run)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=None,
        help="extra runs per file to replace discarded ones (default: --runs)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="one 3 s run per file (overrides --runs/--duration)",
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
        help="JSON output file (default: benchmarks/results/static-<time>.json)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.duration = 1, 3
    if args.retries is None:
        args.retries = args.runs
    if not 0 <= args.retries <= 100 or not 0 < args.max_other_cpu <= 1:
        p.error("--retries must be 0..100 and --max-other-cpu in (0, 1]")
    args.target_names = _names(p, args.targets, list(TARGETS), "target(s)")
    args.size_names = _names(p, args.sizes, list(SIZES), "size(s)")
    args.conns = args.connections
    if not 1 <= args.runs <= 100 or not 0 < args.duration <= 600:
        p.error("--runs must be 1..100 and --duration 0..600 s")
    if not 0 <= args.warmup <= 600 or not 0 < args.startup_timeout <= 300:
        p.error("--warmup must be 0..600 s and --startup-timeout 0..300 s")
    if args.duration != int(args.duration) or args.warmup != int(args.warmup):
        p.error("wrk takes whole seconds: --duration and --warmup must be integers")
    if not all(1 <= c <= 10_000 for c in args.conns.values()) or not 1 <= args.threads <= 64:
        p.error("connections must be 1..10000 and --threads 1..64")
    if any(args.conns[s] < args.threads for s in args.size_names):
        p.error("wrk needs at least as many connections as threads")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return a process exit code."""
    args = parse_args(argv)
    if not shutil.which(args.wrk):
        print("wrk not found: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"static-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    if load[0] > 0.5:
        print(
            f"warning: load average {load[0]:.2f}; other work on this machine "
            "will skew the numbers",
            file=sys.stderr,
        )
    print(
        f"wrk -t{args.threads} --latency, "
        + ", ".join(f"{s} -c{args.conns[s]}" for s in args.size_names)
        + f"; {args.runs} x {args.duration:g} s per file after {args.warmup:g} s warm-up; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    results: list[TargetResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-static-") as tmp:
        files = Path(tmp) / "files"
        scratch = Path(tmp) / "servers"
        files.mkdir()
        scratch.mkdir()
        Path(tmp).chmod(0o755)
        digests = make_files(files, args.size_names)
        for name in args.target_names:
            print(f"{name}: starting", flush=True)
            res = bench_target(TARGETS[name], args, files, digests, scratch, log_dir)
            if res.status != "ok":
                print(f"  {name}: {res.status}: {res.error}", flush=True)
                log_tail = tail(res.server_log)
                if log_tail:
                    print(log_tail, flush=True)
            err_log = scratch / name / "error.log"
            if err_log.is_file() and err_log.stat().st_size:
                shutil.copy(err_log, log_dir / f"{name}.error.log")
            results.append(res)
    load_after = os.getloadavg()

    table = format_tables(results, args.size_names, args.conns)
    print()
    print(table)

    vers = bench_hello.versions(args.wrk)
    vers["nginx"] = nginx_version()
    report: dict[str, Any] = {
        "benchmark": "static",
        "timestamp": stamp,
        "files": {s: {"name": file_name(s), "bytes": SIZES[s]} for s in args.size_names},
        "settings": {
            "runs": args.runs,
            "duration_s": args.duration,
            "connections": {s: args.conns[s] for s in args.size_names},
            "wrk_threads": args.threads,
            "warmup_s": args.warmup,
            "wrk_timeout": WRK_TIMEOUT,
            "max_other_cpu": args.max_other_cpu,
            "retries": args.retries,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load,
            "loadavg_after": load_after,
        },
        "versions": vers,
        "nginx_config": nginx_config(0, Path("FILES"), Path("SCRATCH"), open_file_cache=False),
        "nginx_ofc_config": nginx_config(0, Path("FILES"), Path("SCRATCH"), open_file_cache=True),
        "results": [asdict(r) for r in results],
        "table": table,
    }
    out = args.output or RESULTS_DIR / f"static-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
