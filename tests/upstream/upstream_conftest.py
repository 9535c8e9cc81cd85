"""conftest.py of the upstream run (copied next to CherryPy's test files by
``run_upstream.py``; not a conftest of our own suite).

Before pytest collects anything: ``import cherrypy`` gives cherrypy_rs, and the
directory of CherryPy's test files is added to the ``cherrypy_rs.test`` package, so
``from cherrypy.test import helper`` is our helper while ``cherrypy.test.checkerdemo``
and the other support modules of the suite are found. Each test's outcome is appended,
one JSON object a line, to ``$CHERRYPY_RS_UPSTREAM_RESULTS`` as soon as it is known
(a run killed by the time bound keeps what it had).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

#: ``run_upstream.py --reference``: CherryPy itself, to tell the environment's failures
#: from ours. Nothing is aliased then.
REFERENCE = os.environ.get("CHERRYPY_RS_UPSTREAM_REFERENCE") == "1"

if not REFERENCE:
    import cherrypy_rs
    import cherrypy_rs.test

    sys.modules["cherrypy"] = cherrypy_rs
    # test_conn's test_598 calls ``urllib.request.urlopen`` having imported only
    # ``urllib.parse``: it works under CherryPy because ``cherrypy.lib.auth_digest``
    # imports ``urllib.request`` at import time; ours imports it lazily (memory), so the
    # test's missing import is made here rather than in every process.
    import urllib.request  # noqa: F401

    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in cherrypy_rs.test.__path__:
        cherrypy_rs.test.__path__.append(_here)
    # CherryPy's tutorials (``cherrypy.tutorial.tut01_helloworld``...), which
    # test_tutorials.py imports: a copy next to the suite holds only that package.
    _extra = os.path.join(os.path.dirname(_here), "extra")
    if os.path.isdir(os.path.join(_extra, "tutorial")) and _extra not in cherrypy_rs.__path__:
        cherrypy_rs.__path__.append(_extra)

_RESULTS = os.environ.get("CHERRYPY_RS_UPSTREAM_RESULTS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


try:
    if REFERENCE:
        raise ImportError("CherryPy's own run keeps cheroot's defaults")
    # Tests that start a server without CPWebCase (test_logging) bind cheroot's
    # WebCase.PORT: a free port, not cheroot's fixed default.
    from cheroot.test import webtest as _cheroot_webtest
except ImportError:  # pragma: no cover - cheroot comes with CherryPy
    pass
else:
    _cheroot_webtest.WebCase.PORT = _free_port()


@pytest.fixture(scope="session")
def watcher_getter() -> Any:
    """pytest-services' fixture, which the memcached session tests ask for (pytest-services
    itself is not installed: it breaks our suite's ``filterwarnings = error``): start
    ``name`` with ``arguments``, wait until ``checker()`` is true, stop it by PID at the
    end of the session. Skips when the binary is absent."""
    started: list[subprocess.Popen[bytes]] = []

    def getter(
        name: str, arguments: Any = (), checker: Any = None, request: Any = None, **_: Any
    ) -> Any:
        binary = shutil.which(name) or (
            f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
        )
        if binary is None:
            pytest.skip(f"{name} is not installed")
        argv = [binary, *arguments]
        if name == "memcached" and os.getuid() == 0:
            argv += ["-u", "root"]  # memcached refuses root without it
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        deadline = time.monotonic() + 15
        while checker is not None and not checker() and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited at start: {argv}")
            time.sleep(0.02)
        return proc

    yield getter
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    if errors:
        return errors[-1] if len(errors) < 3 else errors[0]
    return lines[-1] if lines else ""


def _message(report: Any) -> str:
    """The first line of what stopped the test, without file paths (so equal causes
    count together)."""
    return _PATH_IN_PARENS.sub("", _raw_message(report))


_PATH_IN_PARENS = re.compile(r" \((?:/|[A-Za-z]:\\)[^)]*\)")


def _raw_message(report: Any) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])  # a skip: (file, line, reason)
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and not isinstance(longrepr, str):
        lines = [line.strip() for line in crash.message.splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].endswith(":"):
            return f"{lines[0]} {lines[1]}"  # "expected body:" says little alone
        return lines[0] if lines else ""
    return _first_line(str(longrepr))


def _write(record: dict[str, Any]) -> None:
    if not _RESULTS:
        return
    with open(_RESULTS, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _write({"kind": "collect", "nodeid": report.nodeid, "message": _message(report)})
    elif report.skipped:
        _write({"kind": "collect-skip", "nodeid": report.nodeid, "message": _message(report)})


def pytest_runtest_logreport(report: Any) -> None:
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            outcome = "xpassed" if report.passed else "xfailed"
        else:
            outcome = report.outcome
    elif report.failed:
        outcome = "error"
    elif report.skipped and report.when == "setup":
        outcome = "skipped"
    else:
        return
    _write(
        {
            "kind": "test",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": outcome,
            "message": _message(report) if outcome != "passed" else "",
            "seconds": round(report.duration, 3),
        }
    )
