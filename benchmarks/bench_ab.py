#!/usr/bin/env python3
"""Two source trees of cherrypy_rs (before/after a change) against CherryPy 18, measured
in alternating rounds of the same invocation.

Each tree is a directory holding a ``cherrypy_rs`` package with its built extension
(e.g. ``git archive`` of a commit plus the ``.so`` of a release build); servers start
with ``PYTHONPATH=<tree>``, so the interpreter that runs this script needs nothing of
cherrypy_rs installed, only CherryPy (and granian for the ``granian`` target). The apps
are those of this directory's ``apps/`` for every target:

- ``hello``: ``GET /`` (``apps/hello_cherrypy_rs.py`` / ``hello_cherrypy.py``);
- ``json``: ``GET /json?n=7`` (``apps/tools_app.py``, ``tools.json_out``);
- ``gzip``: ``GET /page`` with ``Accept-Encoding: gzip`` (``apps/tools_app.py``);
- ``method``: ``GET /api/items/3`` through ``MethodDispatcher`` (``apps/dispatch_app.py``);
- ``session``: ``GET /count``, a counter in a RamSession, one session per connection
  (``apps/session_cherrypy_rs.py`` / ``session_cherrypy.py``, sessions opened before the
  run and used round-robin from one wrk thread, as ``bench_sessions.py``);
  ``session2`` is the same with ``server.workers = 2`` for the cherrypy_rs trees;
- ``static``, ``static100k``, ``static10m``: ``GET /static/<size>.bin`` of a 1 KiB,
  100 KiB or 10 MiB file through ``tools.staticdir`` (``apps/static_cherrypy_rs.py`` /
  ``static_cherrypy.py``, the files of ``bench_static.py``; served by Rust alone).

Every round runs each target once (start, warm up, one measured wrk run, stop by PID);
the table gives the median req/s and CPU µs/request (server process tree) over the
rounds, and ratios of medians. Only 127.0.0.1 is contacted; every loop is bounded.

Example::

    python benchmarks/bench_ab.py --before /tmp/before --after /tmp/after \\
        --scenarios hello,json,session --rounds 5 --duration 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
import bench_sessions
import bench_static
from bench_hello import APPS_DIR, RESULTS_DIR, free_port, stop_process, tree_cpu_seconds, wait_ready

#: scenario -> (path, extra wrk args, rs app argv, cherrypy app argv, granian module:app)
SCENARIOS: dict[str, tuple[str, list[str], list[str], list[str], str | None]] = {
    "hello": ("/", [], ["hello_cherrypy_rs.py"], ["hello_cherrypy.py"], None),
    "json": (
        "/json?n=7",
        [],
        ["tools_app.py", "cherrypy_rs"],
        ["tools_app.py", "cherrypy"],
        "tools_app:wsgi",
    ),
    "gzip": (
        "/page",
        ["-H", "Accept-Encoding: gzip"],
        ["tools_app.py", "cherrypy_rs"],
        ["tools_app.py", "cherrypy"],
        None,
    ),
    "method": (
        "/api/items/3",
        [],
        ["dispatch_app.py", "cherrypy_rs"],
        ["dispatch_app.py", "cherrypy"],
        None,
    ),
    "session": ("/count", [], ["session_cherrypy_rs.py"], ["session_cherrypy.py"], None),
    "session2": ("/count", [], ["session_cherrypy_rs.py"], ["session_cherrypy.py"], None),
    "static": ("/static/small.bin", [], ["static_cherrypy_rs.py"], ["static_cherrypy.py"], None),
    "static100k": (
        "/static/medium.bin",
        [],
        ["static_cherrypy_rs.py"],
        ["static_cherrypy.py"],
        None,
    ),
    "static10m": ("/static/large.bin", [], ["static_cherrypy_rs.py"], ["static_cherrypy.py"], None),
}

#: The directory of the static scenarios' files (written once per invocation).
STATIC_DIR = RESULTS_DIR / "ab-static-files"


def command(target: str, scenario: str, port: int, args: argparse.Namespace) -> list[str]:
    """The server command line of ``target`` for ``scenario`` on ``port``."""
    _path, _extra, rs_app, cp_app, wsgi = SCENARIOS[scenario]
    env = ["env", "BENCH_SESSION_STORE=ram"]
    if scenario == "session2" and target in ("before", "after"):
        env.append("BENCH_WORKERS=2")
    if target in ("before", "after"):
        tree = args.before if target == "before" else args.after
        env.append(f"PYTHONPATH={tree}")
        argv = [*rs_app[:1], *rs_app[1:]]
    elif target == "cherrypy":
        argv = list(cp_app)
    else:  # granian: CherryPy's Application as WSGI, one blocking thread
        assert wsgi is not None
        base = bench_hello.cmd_granian_1thread(port)
        return [*base[:-1], wsgi]
    script = str(APPS_DIR / argv[0])
    if argv[0].startswith(("tools_app", "dispatch_app")):
        return [*env, sys.executable, script, argv[1], str(port)]
    if scenario.startswith("static"):
        return [*env, sys.executable, script, str(port), str(STATIC_DIR)]
    return [*env, sys.executable, script, str(port)]


def one_run(target: str, scenario: str, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    """Start ``target``, warm up, measure one wrk run, stop it."""
    path, extra, *_ = SCENARIOS[scenario]
    port = free_port()
    threads, conns = 1, args.connections
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command(target, scenario, port, args),
            cwd=APPS_DIR,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        if scenario.startswith("static"):
            reason = wait_ready(proc, port, 20.0, check=lambda p: bench_static.answers(p, path))
        else:
            reason = wait_ready(proc, port, 20.0)
        if reason is not None:
            return {"error": reason}
        if scenario.startswith("session"):
            # One session per connection, opened now (see bench_sessions.py).
            extra = [*extra, "-s", str(bench_sessions.write_script(port, conns))]
        bench_hello.run_wrk(
            args.wrk, port, threads, conns, args.warmup, path=path, extra_args=extra
        )
        cpu0 = tree_cpu_seconds(proc.pid)
        run = bench_hello.run_wrk(
            args.wrk, port, threads, conns, args.duration, path=path, extra_args=extra
        )
        cpu = tree_cpu_seconds(proc.pid) - cpu0
        return {
            "rps": run.requests_per_s,
            "cpu_us": cpu / run.requests * 1e6 if run.requests else None,
            "non_2xx": run.non_2xx,
            "errors": run.socket_errors,
        }
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    finally:
        stop_process(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="tree with the 'before' package")
    parser.add_argument("--after", required=True, help="tree with the 'after' package")
    parser.add_argument("--scenarios", default="hello,json,gzip,method,session")
    parser.add_argument("--targets", default="before,after,cherrypy")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("-c", "--connections", type=int, default=50)
    parser.add_argument("--wrk", default="wrk")
    args = parser.parse_args(argv)
    if any(s.startswith("session") for s in args.scenarios.split(",")):
        bench_sessions.LUA.parent.mkdir(parents=True, exist_ok=True)
    if any(s.startswith("static") for s in args.scenarios.split(",")):
        STATIC_DIR.mkdir(parents=True, exist_ok=True)
        bench_static.make_files(STATIC_DIR, list(bench_static.SIZES))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"ab-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"loadavg_before": os.getloadavg(), "args": vars(args), "runs": {}}
    targets = args.targets.split(",")
    lines = []
    for scenario in args.scenarios.split(","):
        names = [t for t in targets if t != "granian" or SCENARIOS[scenario][4]]
        runs: dict[str, list[dict[str, Any]]] = {t: [] for t in names}
        for r in range(args.rounds):
            for target in names:
                res = one_run(target, scenario, args, log_dir / f"{scenario}-{target}.log")
                runs[target].append(res)
                print(f"{scenario} round {r + 1} {target}: {res}", flush=True)
        report["runs"][scenario] = runs
        med: dict[str, tuple[float, float]] = {}
        for target, results in runs.items():
            ok = [x for x in results if "rps" in x and x["cpu_us"] is not None]
            if ok:
                med[target] = (
                    statistics.median(x["rps"] for x in ok),
                    statistics.median(x["cpu_us"] for x in ok),
                )
        lines.append(f"\n{scenario} ({SCENARIOS[scenario][0]}), {args.rounds} rounds:")
        for target, (rps, cpu) in med.items():
            rel = []
            for ref in ("before", "cherrypy", "granian"):
                if ref != target and ref in med:
                    rel.append(f"{rps / med[ref][0]:.2f}x {ref}")
            lines.append(f"  {target:9} {rps:10,.0f} req/s {cpu:8.1f} us CPU/req  {', '.join(rel)}")
    report["loadavg_after"] = os.getloadavg()
    print("\n".join(lines))
    print(f"load average before {report['loadavg_before']}, after {report['loadavg_after']}")
    out = RESULTS_DIR / f"ab-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
