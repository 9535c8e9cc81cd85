#!/usr/bin/env python3
"""The Python side of one request, without a server: a loop calling the request
handler (``handler.RequestHandler``) with a stand-in for the Rust request object.

It measures what the framework costs per request in Python (dispatch, config, tools,
the handler, finalize) for the scenarios of the HTTP benchmarks, and makes that code
easy to profile (``--profile`` prints cProfile's top functions; py-spy works too:
``py-spy record -o out.svg -- python benchmarks/python_path.py --scenario json``).
No socket is opened and no server started; the Rust extension is imported only
because the package imports it.

Scenarios (the apps of ``bench_hello.py``, ``bench_tools.py``, ``bench_sessions.py``
and ``bench_dispatch.py``, built here in one application):

- ``hello``: ``GET /`` -> ``Hello, world!`` (no tool);
- ``json``: ``GET /json?n=7``, a 1 KB dict through ``@tools.json_out()``;
- ``gzip``: ``GET /page`` with ``Accept-Encoding: gzip``, 20 KB through ``tools.gzip``;
- ``session``: ``GET /count`` with the session cookie of the first answer, a counter
  in ``cherrypy.session`` (RamSession);
- ``method``: ``GET /api/items/3`` through ``MethodDispatcher`` (``GET`` of a REST
  resource).

Examples::

    python benchmarks/python_path.py                     # every scenario
    python benchmarks/python_path.py --scenario session --profile
    PYTHONPATH=/tmp/before python benchmarks/python_path.py   # another tree's code
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "apps"))

import cherrypy_rs

sys.modules["cherrypy"] = cherrypy_rs

import dispatch_app  # noqa: E402
import tools_app  # noqa: E402

cherrypy = cherrypy_rs


class FakeCore:
    """What the Rust server hands the request handler, for one GET request."""

    app = 0
    method = "GET"
    protocol = "HTTP/1.1"
    scheme = "http"
    script_name = ""
    body = None
    content_length = 0
    remote = ("127.0.0.1", 40000)
    local = ("127.0.0.1", 8080)

    def __init__(self, path: str, headers: list[tuple[str, str]]) -> None:
        self.path_info, _, self.query_string = path.partition("?")
        self.path = self.path_info
        self.request_line = f"GET {path} HTTP/1.1"
        self.headers = [("Host", "127.0.0.1:8080"), *headers]

    def header_items(self) -> list[tuple[str, str]]:
        return list(self.headers)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        values = [v for k, v in self.headers if k.lower() == lname]
        return ", ".join(values) if values else None

    def body_fd(self) -> int | None:
        return None

    def environ(self) -> dict[str, str]:
        return {}

    def ssl_environ(self) -> None:
        return None


SCENARIOS = {
    "hello": ("/", []),
    "json": ("/json?n=7", []),
    "gzip": ("/page", [("Accept-Encoding", "gzip")]),
    "session": ("/count", []),
    "method": ("/api/items/3", []),
}


@cherrypy.expose
def count() -> str:
    """The page of ``apps/session_cherrypy_rs.py``: a counter in the session."""
    n = cherrypy.session.get("n", 0) + 1
    cherrypy.session["n"] = n
    return str(n)


def build_handler() -> Any:
    """One application with every scenario's page, and its request handler."""
    cherrypy.config.update({**tools_app.CONFIG["global"], "environment": "production"})
    root = tools_app.Root()
    root.count = count
    root.api = dispatch_app.Api()
    app = cherrypy.tree.mount(
        root,
        "",
        {
            "/count": {"tools.sessions.on": True},
            "/api": {"request.dispatch": cherrypy.dispatch.MethodDispatcher()},
        },
    )
    return app.wsgi_handler()


def make_core(handler: Any, scenario: str) -> FakeCore:
    """The request of ``scenario`` (for sessions: carrying the cookie a first request
    got, as a browser would)."""
    path, headers = SCENARIOS[scenario]
    core = FakeCore(path, headers)
    status, _reason, header_list, body = handler(core)
    if status != 200:
        raise SystemExit(f"{scenario}: {path} answered {status}: {body!r}")
    if scenario == "session":
        cookie = next(v for k, v in header_list if k == "Set-Cookie").split(";")[0]
        core = FakeCore(path, [*headers, ("Cookie", cookie)])
    return core


def measure(handler: Any, core: FakeCore, n: int) -> float:
    """CPU microseconds (of this thread) per request over ``n`` calls: less disturbed
    than wall time by other processes on a shared machine."""
    t0 = time.thread_time()
    for _ in range(n):
        handler(core)
    return (time.thread_time() - t0) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=",".join(SCENARIOS))
    parser.add_argument("-n", type=int, default=20_000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one round")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--calls",
        type=int,
        default=None,
        help="only make this many requests per scenario after the first (no timing): "
        "for instruction counts, e.g. under valgrind --tool=cachegrind",
    )
    args = parser.parse_args(argv)
    handler = build_handler()
    for scenario in args.scenario.split(","):
        core = make_core(handler, scenario)
        if args.calls is not None:
            for _ in range(args.calls):
                handler(core)
            continue
        measure(handler, core, min(args.n, 2000))  # warm-up
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            measure(handler, core, args.n)
            prof.disable()
            print(f"== {scenario}")
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
            continue
        times = [measure(handler, core, args.n) for _ in range(args.rounds)]
        print(
            f"{scenario:8} min {min(times):6.2f} us/request "
            f"(median {statistics.median(times):.2f}, max {max(times):.2f})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
