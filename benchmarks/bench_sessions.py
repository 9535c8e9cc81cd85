#!/usr/bin/env python3
"""Sessions: a counter in ``cherrypy.session``, one cookie jar per connection, on
cherrypy_rs and real CherryPy 18 with RAM and file storage, and on cherrypy_rs with
Redis in one process and with ``--workers 2``.

Before each wrk run the script opens one browser session per connection (``-c``
sessions, each from its own ``GET /count`` answer's cookie); wrk's Lua script then
sends the requests round-robin over these cookies, so each of the ``-c`` connections
in flight carries a session of its own, and each request loads, increments and saves
it (``GET /count``, implicit locking). One wrk thread (``-t1``) drives them all, as in
the other benchmarks: an earlier version gave each connection its own wrk thread
(``-t`` = ``-c``), and 50 client threads running Lua on 2 cores took the CPU the
servers were being measured on. The
apps are ``apps/session_cherrypy_rs.py`` and ``apps/session_cherrypy.py`` (the same
program, only the import differs). The Redis targets need ``redis-server``: one is
started on a free loopback port for the run and stopped by PID at the end. The
mechanics (free port, readiness, wrk runs, CPU over the process tree, stop by PID,
table and JSON report) are ``bench_hello.py``'s.

Goal: RAM on cherrypy_rs >= 20x real CherryPy's req/s (a release build).

Examples::

    python benchmarks/bench_sessions.py
    python benchmarks/bench_sessions.py --quick --targets rs-ram,cp-ram
"""

from __future__ import annotations

import atexit
import functools
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hello
from bench_hello import HOST, RESULTS_DIR, Target, free_port

LUA = RESULTS_DIR / "session_cookie_jar.lua"
LUA_TEMPLATE = """-- The sessions opened before the run, used round-robin (one per connection).
local requests = {}
local next_request = 0
init = function(args)
  for _, cookie in ipairs({%s}) do
    requests[#requests + 1] = wrk.format("GET", "/count", {["Cookie"] = cookie})
  end
end
request = function()
  next_request = next_request %% #requests + 1
  return requests[next_request]
end
"""
SESSION_DIRS = {"rs": RESULTS_DIR / "sessions-rs", "cp": RESULTS_DIR / "sessions-cp"}
REFERENCES = (("cp-ram", "vs CherryPy RAM"), ("cp-file", "vs CherryPy file"))


def _app(impl: str, port: int, store: str, workers: int = 1) -> list[str]:
    """The command line; the store and workers go through the environment (set here
    for the child by ``env`` so each target is self-contained)."""
    script = "session_cherrypy_rs.py" if impl == "rs" else "session_cherrypy.py"
    env = [
        f"BENCH_SESSION_STORE={store}",
        f"BENCH_SESSION_DIR={SESSION_DIRS[impl]}",
        f"BENCH_REDIS_URL={os.environ.get('BENCH_REDIS_URL', '')}",
        f"BENCH_WORKERS={workers}",
    ]
    return ["env", *env, sys.executable, script, str(port)]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("rs-ram", "cherrypy_rs, RamSession", lambda p: _app("rs", p, "ram")),
        Target("cp-ram", "CherryPy 18, RamSession", lambda p: _app("cp", p, "ram")),
        Target("rs-file", "cherrypy_rs, FileSession", lambda p: _app("rs", p, "file")),
        Target("cp-file", "CherryPy 18, FileSession", lambda p: _app("cp", p, "file")),
        Target(
            "rs-redis-1", "cherrypy_rs, RedisSession, 1 process", lambda p: _app("rs", p, "redis")
        ),
        Target(
            "rs-redis-2",
            "cherrypy_rs, RedisSession, --workers 2",
            lambda p: _app("rs", p, "redis", workers=2),
        ),
    )
}


def start_redis() -> None:
    """A redis-server on a free loopback port for the Redis targets (no persistence),
    stopped by PID when the script exits."""
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server not found: apt-get install -y redis-server", file=sys.stderr)
        return
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", HOST, "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    for _ in range(150):
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.1)
    os.environ["BENCH_REDIS_URL"] = f"redis://{HOST}:{port}/0"


def open_sessions(port: int, count: int) -> list[str]:
    """``count`` new sessions on the server at ``port``: their ``name=id`` cookies."""
    cookies = []
    for _ in range(count):
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            conn.request("GET", "/count")
            response = conn.getresponse()
            response.read()
            header = response.getheader("Set-Cookie") or ""
        finally:
            conn.close()
        cookie = header.split(";", 1)[0].strip()
        if response.status != 200 or "=" not in cookie:
            raise RuntimeError(f"GET /count gave {response.status} without a session cookie")
        cookies.append(cookie)
    return cookies


def setup() -> None:
    LUA.parent.mkdir(parents=True, exist_ok=True)
    for directory in SESSION_DIRS.values():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    start_redis()
    # Every wrk run gets the cookie-jar script.
    bench_hello.run_wrk = functools.partial(_run_wrk_with_script, bench_hello.run_wrk)


def write_script(port: int, count: int) -> Path:
    """Open ``count`` sessions on the server at ``port`` and write the wrk script that
    sends requests round-robin over them; its path."""
    cookies = open_sessions(port, count)
    LUA.write_text(LUA_TEMPLATE % ", ".join(f'"{c}"' for c in cookies))
    return LUA


def _run_wrk_with_script(run_wrk, wrk, port, threads, conns, secs, **kwargs):  # type: ignore[no-untyped-def]
    extra = (*kwargs.pop("extra_args", ()), "-s", str(write_script(port, conns)))
    return run_wrk(wrk, port, threads, conns, secs, path="/count", extra_args=extra, **kwargs)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return bench_hello.main(
        argv,
        targets=TARGETS,
        default_targets=list(TARGETS),
        references=REFERENCES,
        prefix="sessions",
        description=__doc__.splitlines()[0],
        log_subdir_prefix="sessions-",
        extra_versions=("redis",),
        setup=setup,
    )


if __name__ == "__main__":
    sys.exit(main())
