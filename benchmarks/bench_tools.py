#!/usr/bin/env python3
"""Tools benchmark: JSON (``tools.json_out``), gzip (``tools.gzip``) and
``MethodDispatcher`` pages on cherrypy_rs vs CherryPy 18 (and, for JSON, CherryPy's
Application on granian).

Every target serves ``apps/tools_app.py`` (``apps/dispatch_app.py`` for ``method``)
from one process on a free 127.0.0.1 port:

- ``json``: ``GET /json?n=7``, a handler reading a query parameter and returning a
  1 KB dict through ``@cherrypy.tools.json_out()``. Issue 15's goal: cherrypy_rs at
  20x CherryPy's req/s or more, in the same run.
- ``gzip``: ``GET /page`` with ``Accept-Encoding: gzip``, a 20 KB HTML page compressed
  by ``tools.gzip``: req/s and CPU us/request beside CherryPy's.
- ``method``: ``GET /api/items/3``, the ``GET`` method of a REST resource chosen by
  ``request.dispatch = cherrypy.dispatch.MethodDispatcher()`` (issue 21 item 9).

The mechanics (free port, readiness polling, wrk runs and parsing, CPU accounting over
the process tree, stop by PID) are those of ``bench_hello.py``, imported from it.
Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time. Measure a
release build of cherrypy_rs only (see README.md).

Examples::

    python benchmarks/bench_tools.py
    python benchmarks/bench_tools.py --quick --scenarios gzip --targets cherrypy_rs,cherrypy
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
from bench_hello import (
    APPS_DIR,
    HOST,
    RESULTS_DIR,
    Target,
    TargetResult,
    free_port,
    run_wrk,
    stop_process,
    tail,
    tree_cpu_seconds,
    wait_ready,
)

APP = str(APPS_DIR / "tools_app.py")
DISPATCH_APP = str(APPS_DIR / "dispatch_app.py")


@dataclass(frozen=True)
class Scenario:
    """A request to measure and what its answer must look like."""

    name: str
    path: str
    headers: tuple[tuple[str, str], ...]
    content_type: str
    content_encoding: str | None
    #: The app script (cherrypy_rs and CherryPy targets).
    app: str = APP


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("json", "/json?n=7", (), "application/json", None),
        Scenario("gzip", "/page", (("Accept-Encoding", "gzip"),), "text/html", "gzip"),
        Scenario("method", "/api/items/3", (), "text/html", None, DISPATCH_APP),
    )
}


def cmd_granian_cherrypy(port: int) -> list[str]:
    """granian serving CherryPy's own Application (tools_app:wsgi) as WSGI, with one
    blocking thread (its fastest mode for a handler that never blocks)."""
    base = bench_hello.cmd_granian_1thread(port)
    return [*base[:-1], "tools_app:wsgi"]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "cherrypy_rs",
            "cherrypy_rs, Rust server",
            lambda p, app=APP: [sys.executable, app, "cherrypy_rs", str(p)],
        ),
        Target(
            "cherrypy",
            "CherryPy 18 on cheroot",
            lambda p, app=APP: [sys.executable, app, "cherrypy", str(p)],
        ),
        Target(
            "granian",
            "CherryPy 18's Application on granian (WSGI, --blocking-threads 1)",
            cmd_granian_cherrypy,
        ),
    )
}
#: Targets measured per scenario by default.
DEFAULTS = {
    "json": ["cherrypy_rs", "cherrypy", "granian"],
    "gzip": ["cherrypy_rs", "cherrypy"],
    "method": ["cherrypy_rs", "cherrypy"],
}
REFERENCES = (("cherrypy", "vs CherryPy"), ("granian", "vs granian"))


def check(port: int, scenario: Scenario) -> str | None:
    """None when the scenario's URL answers as it should, else what is wrong."""
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", scenario.path, headers=dict(scenario.headers))
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        return f"request failed: {exc}"
    finally:
        conn.close()
    ctype = resp.getheader("Content-Type") or ""
    if resp.status != 200 or not ctype.startswith(scenario.content_type):
        return f"got {resp.status} {ctype}"
    if resp.getheader("Content-Encoding") != scenario.content_encoding:
        return f"Content-Encoding {resp.getheader('Content-Encoding')!r}"
    if scenario.name == "json" and len(json.loads(body)) < 5:
        return "unexpected JSON"
    return None


def bench(
    target: Target, scenario: Scenario, args: argparse.Namespace, log_dir: Path
) -> TargetResult:
    """Start, check, measure and stop one target for one scenario."""
    port = free_port()
    if target.name == "granian":
        cmd = target.command(port)
    else:
        cmd = target.command(port, scenario.app)  # type: ignore[call-arg]
    result = TargetResult(target.name, target.description, cmd)
    log_path = log_dir / f"{scenario.name}-{target.name}.log"
    result.server_log = str(log_path)
    extra = [arg for name, value in scenario.headers for arg in ("-H", f"{name}: {value}")]
    with log_path.open("wb") as log:
        try:
            proc = subprocess.Popen(
                cmd, cwd=APPS_DIR, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            result.status, result.error = "failed to start", str(exc)
            return result
        try:
            reason = wait_ready(proc, port, args.startup_timeout) or check(port, scenario)
            if reason is not None:
                result.status, result.error = "failed to start", reason
                return result
            if args.warmup > 0:
                run_wrk(
                    args.wrk,
                    port,
                    args.threads,
                    args.connections,
                    args.warmup,
                    path=scenario.path,
                    extra_args=extra,
                )
            for i in range(args.runs):
                cpu0 = tree_cpu_seconds(proc.pid)
                run = run_wrk(
                    args.wrk,
                    port,
                    args.threads,
                    args.connections,
                    args.duration,
                    path=scenario.path,
                    extra_args=extra,
                )
                run.cpu_s = round(tree_cpu_seconds(proc.pid) - cpu0, 3)
                if run.requests:
                    run.cpu_us_per_request = round(run.cpu_s / run.requests * 1e6, 2)
                result.runs.append(run)
                print(
                    f"  {scenario.name} {target.name} run {i + 1}/{args.runs}: "
                    f"{run.requests_per_s:,.0f} req/s, {run.cpu_us_per_request} us CPU/req, "
                    f"non2xx={run.non_2xx}",
                    flush=True,
                )
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            result.status, result.error = "error", str(exc)
        finally:
            stop_process(proc)
    if result.runs:
        result.rps_median = statistics.median(r.requests_per_s for r in result.runs)
        cpus = [r.cpu_us_per_request for r in result.runs if r.cpu_us_per_request is not None]
        result.cpu_us_per_request = statistics.median(cpus) if cpus else None
    return result


def main(argv: list[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--scenarios", default="json,gzip,method")
    known, rest = pre.parse_known_args(argv)
    scenarios = [s.strip() for s in known.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        print(
            f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    args = bench_hello.parse_args(
        rest, targets=TARGETS, prefix="tools", description=__doc__.splitlines()[0]
    )
    if not bench_hello.shutil.which(args.wrk):
        print("wrk not found: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    explicit = "--targets" in " ".join(rest)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"tools-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    report: dict[str, Any] = {"benchmark": "tools", "timestamp": stamp, "scenarios": {}}
    tables = []
    for name in scenarios:
        scenario = SCENARIOS[name]
        names = args.target_names if explicit else DEFAULTS[name]
        results = []
        for target in names:
            print(f"{name}: {target}", flush=True)
            res = bench(TARGETS[target], scenario, args, log_dir)
            if res.status != "ok":
                print(f"  {target}: {res.status}: {res.error}\n{tail(res.server_log)}", flush=True)
            results.append(res)
        table = bench_hello.format_table(results, REFERENCES)
        tables.append(f"{name} ({scenario.path}):\n{table}")
        report["scenarios"][name] = {"results": [asdict(r) for r in results], "table": table}
    print("\n" + "\n\n".join(tables))
    report.update(
        settings={
            "runs": args.runs,
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "warmup_s": args.warmup,
        },
        machine={"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_before": load},
        versions=bench_hello.versions(args.wrk),
    )
    out = args.output or RESULTS_DIR / f"tools-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
