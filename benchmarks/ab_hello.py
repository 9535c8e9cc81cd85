#!/usr/bin/env python3
"""Hello paths, two builds of cherrypy_rs side by side with granian: same run, alternating
rounds, medians, CPU µs/request.

Each build is a directory holding a ``cherrypy_rs`` package with its release extension
(``git archive`` of a commit plus the ``.so`` of ``make build-prod``); its servers start
with ``PYTHONPATH=<tree>``. Scenarios (apps from ``apps/``):

- ``wsgi``: the bare WSGI hello (``hello_wsgi:app``) on ``python -m cherrypy_rs wsgi
  --threads 1``;
- ``app``: the CherryPy-style hello (``hello_cherrypy_rs.py``);
- ``granian``: granian ``--blocking-threads 1`` serving ``hello_wsgi:app``, the reference
  for both (issue 19: WSGI ≥ 1.2x, the CherryPy-style app ≥ 1.0x).

Every round runs each target once per connection count (start, warm up, one measured
``wrk -t1`` run, stop by PID), in a rotated order; the table gives, per connection count,
the median req/s and server CPU µs/request (utime+stime of the server's process tree from
``/proc``) over the rounds, p99 latency, and ratios of medians. Only 127.0.0.1 is
contacted; every loop is bounded in count and time. The load average is printed before
and after: figures from a loaded machine are for ratios only.

Example::

    python benchmarks/ab_hello.py --before /tmp/before --after /tmp/after \\
        --rounds 5 --duration 5 --connections 16,50
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
from bench_hello import APPS_DIR, RESULTS_DIR, free_port, stop_process, tree_cpu_seconds, wait_ready

#: Server environment knobs a target may carry, e.g. ``after+spin=0`` runs the ``after``
#: tree with ``CHERRYPY_RS_WORKER_SPIN_US=0``: switches an experimental build may read
#: (released builds read none). The 2026-12-02 hand-off experiments (commits 016bb9d and
#: 2489dd7 of branch ``handoff``) read all of these: the worker's spin before parking
#: (``spin`` µs, ``mode`` 0 yield / 1 pause / 2 or 3 pause then yield / 4 yield until the
#: CPU is found shared (``shared`` µs)), the reply batch (``batch``) and a spin of the
#: tokio thread before it parks while replies are due (``iospin`` µs, ``iomode``).
KNOBS = {
    "spin": "CHERRYPY_RS_WORKER_SPIN_US",
    "mode": "CHERRYPY_RS_SPIN_MODE",
    "batch": "CHERRYPY_RS_REPLY_BATCH",
    "iospin": "CHERRYPY_RS_IO_SPIN_US",
    "iomode": "CHERRYPY_RS_IO_SPIN_MODE",
    "pause": "CHERRYPY_RS_SPIN_PAUSE_US",
    "shared": "CHERRYPY_RS_YIELD_SHARED_US",
}


def tree_context_switches(root: int) -> int:
    """Voluntary + involuntary context switches so far of every thread of root's tree."""
    total = 0
    for pid in bench_hello.descendants(root):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        # "voluntary_ctxt_switches:" and "nonvoluntary_ctxt_switches:"
                        if "ctxt_switches:" in line:
                            total += int(line.split()[-1])
            except (OSError, ValueError):
                continue
    return total


def command(target: str, port: int, trees: dict[str, str]) -> list[str]:
    """The server command line of ``target`` ("before-wsgi", "after-app", "granian")."""
    if target == "granian":
        return bench_hello.cmd_granian_1thread(port)
    name, _, scenario = target.rpartition("-")
    build, *knobs = name.split("+")
    env = ["env", f"PYTHONPATH={trees[build]}"]
    for knob in knobs:
        key, _, value = knob.partition("=")
        env.append(f"{KNOBS[key]}={value}")
    if scenario == "wsgi":
        return [
            *env,
            sys.executable,
            "-m",
            "cherrypy_rs",
            "wsgi",
            "hello_wsgi:app",
            "--bind",
            f"{bench_hello.HOST}:{port}",
            "--threads",
            "1",
        ]
    return [*env, sys.executable, str(APPS_DIR / "hello_cherrypy_rs.py"), str(port)]


def one_run(target: str, conns: int, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    """Start ``target``, warm up, measure one wrk run, stop it."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command(target, port, args.trees),
            cwd=APPS_DIR,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        reason = wait_ready(proc, port, 20.0)
        if reason is not None:
            return {"error": reason}
        bench_hello.run_wrk(args.wrk, port, 1, conns, args.warmup)
        cpu0 = tree_cpu_seconds(proc.pid)
        cs0 = tree_context_switches(proc.pid)
        run = bench_hello.run_wrk(args.wrk, port, 1, conns, args.duration)
        cpu = tree_cpu_seconds(proc.pid) - cpu0
        cs = tree_context_switches(proc.pid) - cs0
        return {
            "rps": run.requests_per_s,
            "cpu_us": cpu / run.requests * 1e6 if run.requests else None,
            "cs_per_req": cs / run.requests if run.requests else None,
            "p50_ms": run.latency_p50_ms,
            "p99_ms": run.latency_p99_ms,
            "non_2xx": run.non_2xx,
            "errors": run.socket_errors,
        }
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    finally:
        stop_process(proc)


def medians(results: list[dict[str, Any]]) -> dict[str, float | None] | None:
    """Medians over the good runs: req/s, CPU µs/request, p50 and p99 ms, context
    switches per request."""
    ok = [r for r in results if "rps" in r and r["cpu_us"] is not None]
    if not ok:
        return None

    def median(key: str) -> float | None:
        values = [r[key] for r in ok if r.get(key) is not None]
        return statistics.median(values) if values else None

    return {key: median(key) for key in ("rps", "cpu_us", "p50_ms", "p99_ms", "cs_per_req")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="tree with the 'before' build")
    parser.add_argument("--after", required=True, help="tree with the 'after' build")
    parser.add_argument(
        "--targets",
        default="before-wsgi,after-wsgi,before-app,after-app,granian",
        help="comma-separated: {before,after}[+knob=N...]-{wsgi,app}, granian (knobs: "
        + ", ".join(KNOBS)
        + ")",
    )
    parser.add_argument("--connections", default="16,50", help="comma-separated wrk -c values")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--wrk", default="wrk")
    args = parser.parse_args(argv)
    args.trees = {"before": args.before, "after": args.after}
    targets = args.targets.split(",")
    if any(t.startswith("before") for t in targets) and not args.before:
        parser.error("--before is needed for the before-* targets")
    # granian from this interpreter's environment, as bench_wsgi.py does.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / "logs" / f"ab-hello-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "loadavg_before": os.getloadavg(),
        "args": {k: v for k, v in vars(args).items() if k != "trees"} | {"trees": args.trees},
        "runs": {},
    }
    lines = []
    for conns in [int(c) for c in args.connections.split(",")]:
        runs: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
        for r in range(args.rounds):
            # Rotate the order so that no target always runs first (or after the same one).
            order = targets[r % len(targets) :] + targets[: r % len(targets)]
            for target in order:
                res = one_run(target, conns, args, log_dir / f"{target}.log")
                runs[target].append(res)
                print(f"c={conns} round {r + 1} {target}: {res}", flush=True)
        report["runs"][f"c{conns}"] = runs
        med = {t: m for t in targets if (m := medians(runs[t])) is not None}
        lines.append(f"\nc={conns}, {args.rounds} rounds of {args.duration:g} s (medians):")
        for target, m in med.items():
            rps = m["rps"] or 0.0
            rel = []
            for ref in ("granian", target.replace("after", "before")):
                if ref != target and ref in med and med[ref]["rps"]:
                    rel.append(f"{rps / med[ref]['rps']:.2f}x {ref}")
            lat = "".join(
                f" {m[key]:6.2f} ms {name}"
                for key, name in (("p50_ms", "p50"), ("p99_ms", "p99"))
                if m[key] is not None
            )
            cs = f" {m['cs_per_req']:.3f} cs/req" if m["cs_per_req"] is not None else ""
            lines.append(
                f"  {target:20} {rps:10,.0f} req/s {m['cpu_us']:6.1f} us CPU/req{lat}{cs}  "
                + ", ".join(rel)
            )
    report["loadavg_after"] = os.getloadavg()
    print("\n".join(lines))
    print(f"load average before {report['loadavg_before']}, after {report['loadavg_after']}")
    out = RESULTS_DIR / f"ab-hello-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
