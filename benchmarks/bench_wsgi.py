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

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
from bench_hello import HOST, Target, cmd_granian, cmd_granian_1thread

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


def _prefer_interpreter_scripts() -> None:
    """Put this interpreter's scripts directory first on PATH.

    bench_hello.granian_cmd() looks granian up on PATH: this makes a venv's granian
    win over, e.g., a pyenv shim, even when the venv is not activated. The servers
    inherit the same PATH.
    """
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (bench_hello.main over this script's targets); return an exit code."""
    return bench_hello.main(
        argv,
        targets=TARGETS,
        default_targets=list(TARGETS),
        references=REFERENCES,
        prefix="wsgi",
        description=__doc__.splitlines()[0],
        log_subdir_prefix="wsgi-",
        extra_versions=("gunicorn", "waitress"),
        report_extra={"app": APP},
        setup=_prefer_interpreter_scripts,
    )


if __name__ == "__main__":
    sys.exit(main())
