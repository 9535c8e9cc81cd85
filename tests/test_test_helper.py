"""cherrypy_rs.test (CherryPy's ``cherrypy.test.helper``, ``webtest``, ``logtest``).

The main check: ``tests/upstream/app_suite.py``, an application's suite written for
CherryPy with ``CPWebCase``, passes unchanged under cherrypy_rs — and under real
CherryPy 18.10, which shows the suite itself is right. Both run in subprocesses: the
suite replaces the global tree and config, and aliases ``cherrypy``.
Then the client side (``WebCase``), ``LogCase`` and ``CPProcess`` in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs.test import helper, logtest, webtest

APP_SUITE = Path(__file__).parent / "upstream" / "app_suite.py"
ALIAS_CONFTEST = 'import sys\nimport cherrypy_rs\nsys.modules["cherrypy"] = cherrypy_rs\n'


def run_suite(tmp_path: Path, conftest: str) -> subprocess.CompletedProcess[str]:
    shutil.copyfile(APP_SUITE, tmp_path / "app_suite.py")
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "app_suite.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WEBTEST_INTERACTIVE": "false"},
    )


def test_cherrypy_suite_runs_unchanged_on_cherrypy_rs(tmp_path: Path) -> None:
    result = run_suite(tmp_path, ALIAS_CONFTEST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 passed" in result.stdout


def test_the_suite_passes_under_cherrypy_itself(tmp_path: Path) -> None:
    # CherryPy's helper always serves on 127.0.0.1:54583.
    with socket.socket() as probe:
        # As the server will: connections of an earlier run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", 54583))
        except OSError:
            pytest.skip("port 54583, which CherryPy's helper uses, is busy")
    result = run_suite(tmp_path, "")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 passed" in result.stdout


# -- the client side against a live server ---------------------------------------------


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    def echo(self, **kwargs: Any) -> str:
        cherrypy.response.headers["Vary"] = "Accept, Cookie"
        cherrypy.response.cookie["seen"] = "yes"
        body = cherrypy.request.body.read() if cherrypy.request.method == "PUT" else b""
        return (
            f"{cherrypy.request.method} {sorted(kwargs.items())} "
            f"{cherrypy.request.headers.get('Content-Type')} {body!r}"
        )


@pytest.fixture
def case(serve_app: Any) -> webtest.WebCase:
    live = serve_app(Root())
    c = webtest.WebCase()
    c.HOST, c.PORT = live.host, live.port
    return c


def test_getpage_and_assertions(case: webtest.WebCase) -> None:
    status, _headers, body = case.getPage("/")
    assert (status, body) == ("200 OK", b"hello")
    assert case.status_code == 200 and case.time is not None and case.url == b"/"
    case.assertStatus(200)
    case.assertStatus("200 OK")
    case.assertStatus((404, 200))
    case.assertBody("hello")
    case.assertInBody("ell")
    case.assertNotInBody("bye")
    case.assertMatchesBody(r"h.l+o")
    assert case.assertHeader("content-type") == "text/html;charset=utf-8"
    case.assertNoHeader("Location")
    failures = [
        lambda: case.assertStatus(404),
        lambda: case.assertBody("hell"),
        lambda: case.assertInBody("bye"),
        lambda: case.assertNotInBody("hello"),
        lambda: case.assertMatchesBody("^x"),
        lambda: case.assertHeader("Content-Type", "text/plain"),
        lambda: case.assertNoHeader("Content-Type"),
        lambda: case.assertHeaderItemValue("Content-Type", "text/plain"),
    ]
    for fail in failures:
        with pytest.raises(AssertionError):
            fail()


def test_post_gets_a_form_content_type_and_cookies_come_back(case: webtest.WebCase) -> None:
    case.getPage("/echo", method="POST", body="a=1&b=2")
    case.assertBody("POST [('a', '1'), ('b', '2')] application/x-www-form-urlencoded b''")
    case.assertHeaderItemValue("Vary", "Cookie")
    case.assertNoHeaderItemValue("Vary", "Cookie")  # the whole value is "Accept, Cookie"
    assert case.cookies == [("Cookie", "seen=yes")]
    # As with CherryPy's helper: a Content-Type of one's own comes without a length.
    case.getPage("/echo", method="PUT", body=b"raw", headers=[("Content-Type", "text/plain")])
    case.assertStatus(411)
    headers = [("Content-Type", "text/plain"), ("Content-Length", "3")]
    case.getPage("/echo", method="PUT", body=b"raw", headers=headers)
    case.assertBody("PUT [] text/plain b'raw'")


def test_persistent_connection_is_reused_then_dropped(case: webtest.WebCase) -> None:
    case.set_persistent(True)
    assert case.persistent
    conn = case.HTTP_CONN
    case.getPage("/")
    sock = conn.sock
    case.getPage("/echo?x=1")
    case.assertBody("GET [('x', '1')] None b''")
    assert conn.sock is sock
    case.set_persistent(False)
    assert not case.persistent and conn.sock is None


def test_http10_request_line(case: webtest.WebCase) -> None:
    case.getPage("/", protocol="HTTP/1.0")
    case.assertStatus(200)
    case.assertBody("hello")


def test_clean_headers_interface_and_strip_netloc() -> None:
    given = [("X-A", "1")]
    headers = webtest.cleanHeaders(given, "POST", b"abc", "127.0.0.1", 8080)
    assert headers == [
        ("X-A", "1"),
        ("Host", "127.0.0.1:8080"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", "3"),
    ]
    assert given == [("X-A", "1")]
    assert webtest.cleanHeaders([("host", "h")], "GET", None, "x", 80) == [("host", "h")]
    assert webtest.cleanHeaders(None, "GET", None, "x", 80) == [("Host", "x")]
    assert webtest.interface("0.0.0.0") == "127.0.0.1"
    assert webtest.interface("::") == "::1"
    assert webtest.interface("10.0.0.1") == "10.0.0.1"
    assert webtest.strip_netloc("https://example.com/a/b?c=1#f") == "/a/b?c=1"


def test_openurl_raises_at_once_for_raise_subcls() -> None:
    port = helper.free_port()  # nothing listens there
    with pytest.raises(ConnectionRefusedError):
        webtest.openURL(b"/", port=port, raise_subcls=ConnectionRefusedError)


# -- logtest ----------------------------------------------------------------------------


def test_logcase_markers(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"before\n")

    class Case(logtest.LogCase):
        logfile = str(log)

    case = Case()
    case.assertInLog("before")
    case.markLog("one")
    with open(log, "ab") as f:
        f.write(b'127.0.0.1 - "GET / HTTP/1.1" 200\n12345678-1234-4234-8234-123456789abc\n')
    case.assertInLog('"GET / HTTP/1.1" 200')
    case.assertNotInLog("before")
    case.assertLog(0, '"GET /')
    case.assertLog((0, 1), ["127.0.0.1"])
    case.assertValidUUIDv4()
    with pytest.raises(pytest.fail.Exception):
        case.assertInLog("POST")
    with pytest.raises(pytest.fail.Exception):
        case.assertLog(-1, "GET")
    with pytest.raises(TypeError):
        case.assertLog((0, 1), "a string")
    case.markLog("two")
    with pytest.raises(pytest.fail.Exception):
        case.assertValidUUIDv4()
    case.emptyLog()
    assert log.read_bytes() == b""


# -- CPProcess ---------------------------------------------------------------------------

CHILD_APP = """
import json
import os
import cherrypy

class Root:
    @cherrypy.expose
    def pid(self):
        return str(os.getpid())

cherrypy.tree.mount(Root())
"""


def test_cpprocess_serves_a_child_and_stops_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child imports the app module from its working directory (cherryd adds "").
    (tmp_path / "cpprocess_child_app.py").write_text(CHILD_APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHERRYPY_RS_TEST_TMP", str(tmp_path))
    monkeypatch.setitem(sys.modules, "cherrypy", cherrypy)  # the child aliases it too
    proc = helper.CPProcess(socket_host="127.0.0.1", socket_port=helper.free_port())
    proc.write_conf()
    assert Path(proc.config_file).parent.parent == tmp_path
    try:
        proc.start(imports="cpprocess_child_app")
        status, _headers, body = webtest.openURL(b"/pid", host=proc.host, port=proc.port)
        assert status == "200 OK"
        assert int(body) == proc.get_pid()
        os.kill(proc.get_pid(), signal.SIGTERM)
        proc.join(timeout=20)
        assert proc.exit_code == 0
    finally:
        if proc._proc is not None and proc._proc.poll() is None:
            proc._proc.kill()
            proc._proc.wait(timeout=10)


# -- the upstream runner ---------------------------------------------------------------

RUNNER = Path(__file__).parent / "upstream" / "run_upstream.py"

HANGING_TEST = """
import subprocess, sys, time

def test_quick():
    import cherrypy, cherrypy_rs
    assert cherrypy is cherrypy_rs

def test_hangs_with_a_child():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open("child.pid", "w") as f:
        f.write(str(child.pid))
    time.sleep(600)
"""

BROKEN_TEST = "import cherrypy._no_such_module\n"

#: A server process that left the process group (as a daemon does) and names the
#: run's directory on its command line, as CPProcess children do.
ESCAPING_TEST = """
import os, subprocess, sys

def test_leaves_a_detached_child():
    code = "import time; time.sleep(601)"
    subprocess.Popen([sys.executable, "-c", code, os.getcwd()], start_new_session=True)
"""


def cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # not a process, or it just ended


def run_runner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args], capture_output=True, text=True, timeout=240
    )


def test_runner_bounds_time_and_stops_what_a_file_started(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_hang.py").write_text(HANGING_TEST)
    (suite / "test_broken.py").write_text(BROKEN_TEST)
    (suite / "test_escape.py").write_text(ESCAPING_TEST)
    out = tmp_path / "run.json"
    result = run_runner(
        "--source", str(suite), "--timeout", "60", "--file-timeout", "8", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    rows = {r["file"]: r for r in data["files"]}
    assert rows["test_hang.py"]["passed"] == 1
    assert rows["test_hang.py"]["status"] == "timed out after 8s"
    assert rows["test_broken.py"]["collection_error"].startswith("ModuleNotFoundError")
    assert "collection error: ModuleNotFoundError" in result.stdout
    # The work directory (and the child's PID file in it) is gone; so is the child.
    workdir = Path(result.stderr.split("work directory ")[1].split()[0])
    assert not workdir.exists()
    assert rows["test_escape.py"]["passed"] == 1
    for marker in (b"time.sleep(600)", b"time.sleep(601)"):
        assert not [pid for pid in os.listdir("/proc") if marker in cmdline(pid)]
    rendered = run_runner("--render", str(out), "--markdown", "--compare", str(out))
    assert "| test_hang.py | 1 | 0 | 0 | 0 | 100% | timed out after 8s |" in rendered.stdout
    assert "no change" in rendered.stdout


def test_runner_on_cherrypy_httputil_tests(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    result = run_runner("httputil", "--json", str(out))
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(out.read_text())["files"]
    assert row["file"] == "test_httputil.py" and row["status"] == "ok"
    assert row["passed"] > 0 and not row["collection_error"]
