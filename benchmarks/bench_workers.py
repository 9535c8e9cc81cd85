#!/usr/bin/env python3
"""Worker processes: 1 vs 2 workers on the WSGI hello and on a 1 KB static file, and
the idle memory of a worker with and without ``--preload``.

Throughput: ``cherrypy-rs wsgi apps/hello_wsgi.py:app --threads 1`` and
``cherrypy-rs static DIR`` (DIR holds a 1 KB ``index.html``, fetched as ``/``), each in
one process and with ``--workers 2``. The mechanics (free port, readiness polling, wrk
runs, CPU over the process tree, stop by PID, the table and the JSON report) are
``bench_hello.py``'s, imported from it; the ratio column is against the one-process
run of the same kind.

Memory: ``cherrypy-rs wsgi`` of a Flask application (``--memory-app``) with
``--workers 2``, with and without ``--preload``: RSS and PSS (proportional set size:
shared pages divided among the processes that share them, from
``/proc/PID/smaps_rollup``) of each idle worker and of the master.

Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time.

Examples::

    python benchmarks/bench_workers.py
    python benchmarks/bench_workers.py --quick
    python benchmarks/bench_workers.py --memory-only
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
from bench_hello import APPS_DIR, HOST, RESULTS_DIR, Target, descendants, free_port, wait_ready

STATIC_DIR = RESULTS_DIR / "static-1k"
REFERENCES = (("wsgi-1", "vs wsgi 1 process"), ("static-1", "vs static 1 process"))


def _cherrypy_rs(*args: str) -> list[str]:
    return [sys.executable, "-m", "cherrypy_rs", *args]


def cmd_wsgi(port: int, workers: int = 0) -> list[str]:
    """The WSGI hello, one handler thread per process; ``workers`` 0: one process."""
    extra = ["--workers", str(workers)] if workers else []
    return _cherrypy_rs(
        "wsgi", "hello_wsgi:app", "--bind", f"{HOST}:{port}", "--threads", "1", *extra
    )


def cmd_static(port: int, workers: int = 0) -> list[str]:
    """The static server on a directory holding a 1 KB index.html."""
    extra = ["--workers", str(workers)] if workers else []
    return _cherrypy_rs("static", str(STATIC_DIR), "--bind", f"{HOST}:{port}", *extra)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("wsgi-1", "WSGI hello, one process", cmd_wsgi),
        Target("wsgi-2", "WSGI hello, --workers 2", lambda p: cmd_wsgi(p, 2)),
        Target("static-1", "1 KB static file, one process", cmd_static),
        Target("static-2", "1 KB static file, --workers 2", lambda p: cmd_static(p, 2)),
    )
}


def make_static_dir() -> None:
    """A directory with a 1 KB index.html (under benchmarks/results/, not committed):
    the hello body padded with spaces, so that bench_hello's readiness probe accepts it."""
    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    body = bench_hello.EXPECTED_BODY
    (STATIC_DIR / "index.html").write_bytes(body + b" " * (1024 - len(body)))


def _kib(pid: int, path: str, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure_memory(preload: bool, settle: float = 2.0) -> dict[str, object]:
    """Start a 2-worker master on the memory app, let it idle, read RSS/PSS."""
    port = free_port()
    cmd = _cherrypy_rs(
        "wsgi",
        "flask_hello:app",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        "2",
        *(["--preload"] if preload else []),
    )
    proc = subprocess.Popen(
        cmd,
        cwd=APPS_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        reason = wait_ready(proc, port, 30)
        if reason is not None:
            return {"preload": preload, "error": reason}
        deadline = time.monotonic() + 10
        while len(descendants(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(settle)
        workers = [pid for pid in descendants(proc.pid) if pid != proc.pid]
        return {
            "preload": preload,
            "master_rss_kib": _kib(proc.pid, "status", "VmRSS"),
            "master_pss_kib": _kib(proc.pid, "smaps_rollup", "Pss"),
            "worker_rss_kib": [_kib(w, "status", "VmRSS") for w in workers],
            "worker_pss_kib": [_kib(w, "smaps_rollup", "Pss") for w in workers],
        }
    finally:
        bench_hello.stop_process(proc)


def report_memory() -> None:
    print("\nIdle memory, Flask hello, --workers 2 (KiB):")
    print(f"{'':12} {'master RSS':>11} {'master PSS':>11} {'worker RSS':>16} {'worker PSS':>16}")
    for preload in (False, True):
        m = measure_memory(preload)
        name = "--preload" if preload else "no preload"
        if "error" in m:
            print(f"{name:12} error: {m['error']}")
            continue
        print(
            f"{name:12} {m['master_rss_kib']!s:>11} {m['master_pss_kib']!s:>11} "
            f"{'/'.join(map(str, m['worker_rss_kib'])):>16} "  # type: ignore[arg-type]
            f"{'/'.join(map(str, m['worker_pss_kib'])):>16}"  # type: ignore[arg-type]
        )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    with open("/proc/loadavg") as f:
        print(f"load average: {f.read().strip()}")
    if "--memory-only" in argv:
        report_memory()
        return 0
    code = bench_hello.main(
        argv,
        targets=TARGETS,
        default_targets=list(TARGETS),
        references=REFERENCES,
        prefix="workers",
        description=__doc__.splitlines()[0],
        log_subdir_prefix="workers-",
        setup=make_static_dir,
    )
    report_memory()
    return code


if __name__ == "__main__":
    sys.exit(main())
