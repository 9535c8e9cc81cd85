"""The open-file limit (RLIMIT_NOFILE) at server start: the soft limit is raised to the
hard one, and the error log says so when even the hard limit is below what
``server.socket_queue_size``, ``server.accepted_queue_size`` and ``server.thread_pool``
imply. Each case runs a server in a child process whose limits were lowered first, so
the test process keeps its own."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import resource

    import cherrypy_rs as cherrypy
    from cherrypy_rs.testing import serve

    class Root:
        @cherrypy.expose
        def index(self):
            return "hello"

    with serve(Root(), socket_queue_size=100, accepted_queue_size=100, thread_pool=2) as live:
        assert live.get("/")[2] == b"hello"
        print("LIMIT", *resource.getrlimit(resource.RLIMIT_NOFILE))
    """
)


def run_child(soft: int, hard: int) -> subprocess.CompletedProcess[str]:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run(
        [sys.executable, "-c", CHILD],
        preexec_fn=lower,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def limit_line(out: str) -> tuple[int, int]:
    line = next(ln for ln in out.splitlines() if ln.startswith("LIMIT "))
    _, soft, hard = line.split()
    return int(soft), int(hard)


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        hard = min(hard, 4096)
    proc = run_child(300, hard)
    assert proc.returncode == 0, proc.stderr
    soft_after, hard_after = limit_line(proc.stdout)
    assert (soft_after, hard_after) == (hard, hard)
    assert "RLIMIT_NOFILE" not in proc.stderr


def test_a_hard_limit_below_the_settings_is_logged() -> None:
    # 100 + 100 + 2 + 64 descriptors are implied; the hard limit allows 200.
    proc = run_child(150, 200)
    assert proc.returncode == 0, proc.stderr
    assert limit_line(proc.stdout) == (200, 200)
    assert "RLIMIT_NOFILE) is 200" in proc.stderr
    assert "at least 266" in proc.stderr
