#!/usr/bin/env python3
"""Side-by-side hello-world benchmark: cherrypy_rs vs CherryPy 18 vs granian.

Each target is started as a subprocess on a free 127.0.0.1 port, polled until
it answers ``GET /`` with ``Hello, world!``, warmed up with ``wrk``, then
measured with ``wrk -t{threads} -c{conns} -d{secs}s`` a number of times. The
median requests/s and the server's CPU time per request (utime+stime of the
server process and all its descendants, from ``/proc``) are reported, along
with ratios against CherryPy and granian. Results are also written as JSON to
``benchmarks/results/``.

Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time.

Examples::

    python benchmarks/bench_hello.py
    python benchmarks/bench_hello.py --quick --targets cherrypy,granian
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
EXPECTED_BODY = b"Hello, world!"
BENCH_DIR = Path(__file__).resolve().parent
APPS_DIR = BENCH_DIR / "apps"
RESULTS_DIR = BENCH_DIR / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")

#: Name of the target the "vs CherryPy" ratio is computed against.
CHERRYPY_REF = "cherrypy"
#: Name of the target the "vs granian" ratio is computed against.
GRANIAN_REF = "granian"
#: ``(target name, column title)`` of the ratio columns of this benchmark's table.
HELLO_REFERENCES = ((CHERRYPY_REF, "vs CherryPy"), (GRANIAN_REF, "vs granian"))
#: ``--help`` description of this benchmark.
DESCRIPTION = __doc__.splitlines()[0]


def granian_cmd() -> list[str]:
    """Return the command prefix that launches granian's CLI."""
    exe = shutil.which("granian")
    return [exe] if exe else [sys.executable, "-m", "granian"]


def cmd_cherrypy_rs(port: int) -> list[str]:
    """Command line for the cherrypy_rs hello app."""
    return [sys.executable, str(APPS_DIR / "hello_cherrypy_rs.py"), str(port)]


def cmd_cherrypy(port: int) -> list[str]:
    """Command line for the CherryPy 18 (cheroot) hello app."""
    return [sys.executable, str(APPS_DIR / "hello_cherrypy.py"), str(port)]


def _granian_base(port: int) -> list[str]:
    """Build the common granian flags: WSGI, 1 worker, HTTP/1, loopback, quiet."""
    return [
        *granian_cmd(),
        "--interface",
        "wsgi",
        "--workers",
        "1",
        "--http",
        "1",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--no-reload",
        "hello_wsgi:app",
    ]


def cmd_granian(port: int) -> list[str]:
    """Command line for granian with its default WSGI blocking-thread count."""
    return _granian_base(port)


def cmd_granian_1thread(port: int) -> list[str]:
    """Command line for granian with a single WSGI blocking thread."""
    return [*_granian_base(port)[:-1], "--blocking-threads", "1", "hello_wsgi:app"]


@dataclass(frozen=True)
class Target:
    """A server to benchmark."""

    name: str
    description: str
    command: Callable[[int], list[str]]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("cherrypy_rs", "cherrypy_rs, Rust server", cmd_cherrypy_rs),
        Target("cherrypy", "CherryPy 18 on cheroot", cmd_cherrypy),
        Target("granian", "granian WSGI, default threads", cmd_granian),
        Target("granian-1thread", "granian WSGI, --blocking-threads 1", cmd_granian_1thread),
    )
}


@dataclass
class WrkRun:
    """Parsed output of one wrk run."""

    requests: int
    duration_s: float
    requests_per_s: float
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    socket_errors: int = 0
    non_2xx: int = 0
    cpu_s: float = 0.0
    cpu_us_per_request: float | None = None


@dataclass
class TargetResult:
    """Outcome of benchmarking one target."""

    name: str
    description: str
    command: list[str]
    status: str = "ok"
    error: str | None = None
    startup_s: float | None = None
    runs: list[WrkRun] = field(default_factory=list)
    rps_median: float | None = None
    cpu_us_per_request: float | None = None
    server_log: str | None = None


# --------------------------------------------------------------------------
# Helpers: ports, readiness, /proc CPU accounting, process shutdown
# --------------------------------------------------------------------------


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1 (bind port 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def probe(port: int, timeout: float = 1.0) -> bool:
    """Return True if ``GET /`` on 127.0.0.1:port answers 200 with the body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read()
        return resp.status == 200 and body.strip() == EXPECTED_BODY
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_ready(
    proc: subprocess.Popen[bytes],
    port: int,
    timeout: float,
    check: Callable[[int], bool] = probe,
) -> str | None:
    """Poll ``check(port)`` (default :func:`probe`) until it passes.

    Return None if the server is ready, else a reason.
    """
    deadline = time.monotonic() + timeout
    max_polls = int(timeout / 0.1) + 10
    for _ in range(max_polls):
        if proc.poll() is not None:
            return f"process exited with code {proc.returncode}"
        if check(port):
            return None
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return f"no correct answer on port {port} within {timeout:.0f} s"


def _read_stat(pid: int) -> tuple[int, int] | None:
    """Return (ppid, utime+stime+cutime+cstime in ticks) for pid, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is wrapped in parentheses and may
    # itself contain spaces or parentheses.
    rest = raw[raw.rfind(")") + 2 :].split()
    ppid = int(rest[1])
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return ppid, utime + stime + cutime + cstime


def descendants(root: int) -> list[int]:
    """Return root and every live descendant process id (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _read_stat(int(entry))
        if st is not None:
            children.setdefault(st[0], []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo and len(found) < 10_000:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user+system) used so far by root and its descendants.

    Children already reaped are included through cutime/cstime of their
    parent, so the sum is continuous while workers come and go.
    """
    ticks = 0
    for pid in descendants(root):
        st = _read_stat(pid)
        if st is not None:
            ticks += st[1]
    return ticks / CLK_TCK


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the server by PID, then SIGKILL it and leftovers after grace s."""
    if proc.poll() is not None:
        return
    tree = descendants(proc.pid)
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Worker processes that outlived their parent (granian) are ended by PID.
    for pid in tree[1:]:
        if _read_stat(pid) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------

_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _to_ms(value: str) -> float | None:
    """Convert a wrk duration such as ``1.23ms`` to milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not m:
        return None
    return round(float(m.group(1)) * _UNITS_S[m.group(2)] * 1e3, 3)


def parse_wrk(output: str) -> WrkRun:
    """Parse wrk's text output (with ``--latency``) into a WrkRun."""
    m_total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output, re.MULTILINE)
    m_rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not m_total or not m_rps:
        raise ValueError("could not parse wrk output:\n" + output)
    duration_s = float(m_total.group(2)) * _UNITS_S[m_total.group(3)]
    run = WrkRun(
        requests=int(m_total.group(1)),
        duration_s=duration_s,
        requests_per_s=float(m_rps.group(1)),
    )
    for pct, attr in (("50", "latency_p50_ms"), ("99", "latency_p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", output, re.MULTILINE)
        if m:
            setattr(run, attr, _to_ms(m.group(1)))
    m_err = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if m_err:
        run.socket_errors = sum(int(x) for x in m_err.groups())
    m_non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if m_non2xx:
        run.non_2xx = int(m_non2xx.group(1))
    return run


def run_wrk(
    wrk: str,
    port: int,
    threads: int,
    conns: int,
    secs: float,
    *,
    path: str = "/",
    extra_args: Sequence[str] = (),
) -> WrkRun:
    """Run wrk once against http://127.0.0.1:port{path} and return the parsed result.

    ``extra_args`` are further wrk options (e.g. ``("--timeout", "10s")``).
    """
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{secs:g}s",
        "--latency",
        *extra_args,
        f"http://{HOST}:{port}{path}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"wrk exited {out.returncode}: {out.stderr.strip()}")
    return parse_wrk(out.stdout)


# --------------------------------------------------------------------------
# Benchmark driver
# --------------------------------------------------------------------------


def bench_target(target: Target, args: argparse.Namespace, log_dir: Path) -> TargetResult:
    """Start, measure and stop one target; never raises for server failures."""
    port = free_port()
    cmd = target.command(port)
    result = TargetResult(target.name, target.description, cmd)
    log_path = log_dir / f"{target.name}.log"
    result.server_log = str(log_path)
    with log_path.open("wb") as log:
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=APPS_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            result.status, result.error = "failed to start", str(exc)
            return result
        try:
            reason = wait_ready(proc, port, args.startup_timeout)
            if reason is not None:
                result.status, result.error = "failed to start", reason
                return result
            result.startup_s = round(time.monotonic() - t0, 3)
            if args.warmup > 0:
                run_wrk(args.wrk, port, args.threads, args.connections, args.warmup)
            for i in range(args.runs):
                cpu0 = tree_cpu_seconds(proc.pid)
                run = run_wrk(args.wrk, port, args.threads, args.connections, args.duration)
                run.cpu_s = round(tree_cpu_seconds(proc.pid) - cpu0, 3)
                if run.requests:
                    run.cpu_us_per_request = round(run.cpu_s / run.requests * 1e6, 2)
                result.runs.append(run)
                print(
                    f"  {target.name} run {i + 1}/{args.runs}: "
                    f"{run.requests_per_s:,.0f} req/s, "
                    f"{run.cpu_us_per_request} us CPU/req, "
                    f"p50 {run.latency_p50_ms} ms, p99 {run.latency_p99_ms} ms, "
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


def tail(path: str | None, lines: int = 5) -> str:
    """Return the last lines of a log file, indented, for error reports."""
    if not path:
        return ""
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("      " + line for line in text[-lines:])


def ratio(value: float | None, ref: TargetResult | None) -> str:
    """Format value / reference median as ``1.23x``, or ``n/a``."""
    if value is None or ref is None or not ref.rps_median:
        return "n/a"
    return f"{value / ref.rps_median:.2f}x"


def format_table(
    results: list[TargetResult],
    references: Sequence[tuple[str, str]] = HELLO_REFERENCES,
) -> str:
    """Render the results as a fixed-width text table.

    ``references`` lists ``(target name, column title)`` pairs; each adds a column
    with every target's median req/s as a ratio of that target's.
    """
    by_name = {r.name: r for r in results}
    refs = [by_name.get(name) for name, _ in references]
    header = ("target", "req/s (median)", "us CPU/req", *(title for _, title in references))
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


def versions(wrk: str) -> dict[str, str | None]:
    """Collect versions of the software under test, for the JSON report."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("CherryPy", "cheroot", "granian", "cherrypy_rs", "cherrypy-rs"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        first = subprocess.run(
            [wrk, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.splitlines()
        out["wrk"] = first[0].strip() if first else None
    except (OSError, subprocess.TimeoutExpired):
        out["wrk"] = None
    return out


def parse_args(
    argv: list[str] | None = None,
    *,
    targets: dict[str, Target] = TARGETS,
    default_targets: Sequence[str] | None = None,
    prefix: str = "hello",
    description: str = DESCRIPTION,
) -> argparse.Namespace:
    """Parse command-line options for a benchmark over ``targets``.

    ``default_targets`` (default: all of ``targets``) is what ``--targets``
    defaults to; ``prefix`` names the default JSON output file.
    """
    defaults = list(targets) if default_targets is None else list(default_targets)
    default_help = "all" if defaults == list(targets) else ", ".join(defaults)
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--targets",
        default=",".join(defaults),
        help="comma-separated subset of: " + ", ".join(targets) + f" (default: {default_help})",
    )
    p.add_argument("--runs", type=int, default=3, help="measured wrk runs (default 3)")
    p.add_argument(
        "--duration",
        type=float,
        default=10,
        help="seconds per measured run (default 10)",
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
        "--quick",
        action="store_true",
        help="one 3 s run per target (overrides --runs/--duration)",
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
        help=f"JSON output file (default: benchmarks/results/{prefix}-<time>.json)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.duration = 1, 3
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in targets]
    if unknown:
        p.error(f"unknown target(s): {', '.join(unknown)}; choose from " + ", ".join(targets))
    args.target_names = names
    if not 1 <= args.runs <= 100 or not 0 < args.duration <= 600:
        p.error("--runs must be 1..100 and --duration 0..600 s")
    if not 0 <= args.warmup <= 600 or not 0 < args.startup_timeout <= 300:
        p.error("--warmup must be 0..600 s and --startup-timeout 0..300 s")
    return args


def main(
    argv: list[str] | None = None,
    *,
    targets: dict[str, Target] = TARGETS,
    default_targets: Sequence[str] | None = None,
    references: Sequence[tuple[str, str]] = HELLO_REFERENCES,
    prefix: str = "hello",
    description: str = DESCRIPTION,
    log_subdir_prefix: str = "",
    extra_versions: Sequence[str] = (),
    report_extra: dict[str, Any] | None = None,
    setup: Callable[[], None] | None = None,
) -> int:
    """Run the benchmark; return a process exit code.

    ``targets``, ``default_targets``, ``prefix`` and ``description`` are passed to
    :func:`parse_args`, ``references`` to :func:`format_table`. ``prefix`` is also
    the report's ``"benchmark"`` name and the JSON file's prefix. ``setup`` runs
    once wrk has been found; server logs go to ``results/logs/<log_subdir_prefix><time>``;
    ``extra_versions`` are further distributions whose versions are reported and
    ``report_extra`` further top-level report keys (placed after ``"timestamp"``).
    """
    args = parse_args(
        argv,
        targets=targets,
        default_targets=default_targets,
        prefix=prefix,
        description=description,
    )
    if not shutil.which(args.wrk):
        print("wrk not found: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    if setup is not None:
        setup()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"{log_subdir_prefix}{stamp}"
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
        res = bench_target(targets[name], args, log_dir)
        if res.status != "ok":
            print(f"  {name}: {res.status}: {res.error}", flush=True)
            log_tail = tail(res.server_log)
            if log_tail:
                print(log_tail, flush=True)
        results.append(res)

    table = format_table(results, references)
    print()
    print(table)

    vers = versions(args.wrk)
    for dist in extra_versions:
        try:
            vers[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            vers[dist] = None
    report: dict[str, Any] = {
        "benchmark": prefix,
        "timestamp": stamp,
        **(report_extra or {}),
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
    out = args.output or RESULTS_DIR / f"{prefix}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
