"""The access log (written by Rust) and the error log (Python logging), as CherryPy
writes them."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs import _cplogging
from cherrypy_rs._server import flush_access_logs
from cherrypy_rs.testing import serve

LINE = re.compile(
    r"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\] "
    r'"(?P<line>[^"]*)" (?P<status>\d{3}) (?P<length>\d+|-) '
    r'"(?P<ref>[^"]*)" "(?P<ua>(?:[^"\\]|\\.)*)"$'
)


class Root:
    @cherrypy.expose
    def index(self, **params: str) -> str:
        return "hello"

    @cherrypy.expose
    def boom(self) -> None:
        raise ValueError("kaboom")


def test_access_log_lines_have_cherrypys_format(tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    with serve(Root(), access_log=str(log_file)) as live:
        live.get("/?a=1", headers={"Referer": "http://x/", "User-Agent": 'ua "q"'})
        live.get("/missing")
    lines = log_file.read_text().splitlines()
    assert len(lines) == 2, lines
    first = LINE.match(lines[0])
    assert first, lines[0]
    assert first["line"] == "GET /?a=1 HTTP/1.1"
    assert (first["status"], first["length"], first["ref"]) == ("200", "5", "http://x/")
    assert lines[0].endswith('"ua \\"q\\""')
    second = LINE.match(lines[1])
    assert second and second["status"] == "404"


def test_handler_tracebacks_go_to_the_error_file(tmp_path: Path) -> None:
    error_file = tmp_path / "error.log"
    old: dict[str, Any] = {"error_file": cherrypy.log.error_file, "screen": cherrypy.log.screen}
    cherrypy.log.error_file = str(error_file)
    cherrypy.log.screen = False
    try:
        with serve(Root()) as live:
            assert live.get("/boom")[0] == 500
            assert live.get("/")[0] == 200
    finally:
        cherrypy.log.error_file = old["error_file"]
        cherrypy.log.screen = old["screen"]
    text = error_file.read_text()
    assert "Traceback (most recent call last)" in text
    assert "ValueError: kaboom" in text


def test_lazy_rfc3339_utc_time_is_now_in_utc() -> None:
    """``_cplogging.LazyRfc3339UtcTime``: RFC 3339 text of the UTC time it is turned
    into a string at."""
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    text = str(_cplogging.LazyRfc3339UtcTime())
    after = datetime.datetime.now(datetime.timezone.utc)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", text)
    when = datetime.datetime.fromisoformat(text[:-1]).replace(tzinfo=datetime.timezone.utc)
    assert before <= when <= after


class Who:
    @cherrypy.expose
    def index(self) -> str:
        return "hi"

    @cherrypy.expose
    def user(self) -> str:
        cherrypy.request.login = "ann"
        return "user"

    @cherrypy.expose
    def broken(self) -> str:
        cherrypy.response.status = "not a status"
        return "x"


def test_a_format_set_while_serving_switches_to_python_and_back(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """``LogManager.access_log_format`` set on the class while the server runs: the
    next requests are logged in that format (by ``LogManager.access``); set back, Rust
    writes CherryPy's default line again. ``flush_access_logs`` makes them readable."""
    log_file = tmp_path / "access.log"
    with serve(Who(), access_log=str(log_file)) as live:
        assert live.get("/")[0] == 200
        monkeypatch.setattr(_cplogging.LogManager, "access_log_format", "{s} {u} {r} {b}")
        assert live.get("/user")[0] == 200
        monkeypatch.undo()
        assert live.get("/user")[0] == 200
        assert flush_access_logs()
        lines = log_file.read_text().splitlines()
    assert len(lines) == 3, lines
    assert LINE.match(lines[0]), lines[0]
    assert lines[1] == "200 ann GET /user HTTP/1.1 4"
    assert lines[2].startswith("127.0.0.1 - ann [")
    assert lines[2].endswith('] "GET /user HTTP/1.1" 200 4 "" ""')


def test_an_instance_format_and_the_config_key(tmp_path: Path) -> None:
    """``cherrypy.log.access_log_format`` (also the ``log.access_log_format`` key) is
    honoured; a failure outside the handler's error handling is logged as a 500."""
    log_file = tmp_path / "access.log"
    cherrypy.log.apply("access_log_format", "{s} {r}")
    try:
        with serve(Who(), access_log=str(log_file)) as live:
            assert live.get("/")[0] == 200
            assert live.get("/broken")[0] == 500
            assert flush_access_logs()
            lines = log_file.read_text().splitlines()
    finally:
        del cherrypy.log.access_log_format
    assert lines == ["200 GET / HTTP/1.1", "500 GET /broken HTTP/1.1"]
    assert not cherrypy.log.access_needs_python()


SITE_SCRIPT = """
import http.client, sys
import pytest

import cherrypy_rs as cherrypy

class Root:
    @cherrypy.expose
    def index(self):
        return "ok"

cherrypy.config.update({"server.socket_host": "127.0.0.1", "server.socket_port": 0,
                        "log.screen": False, "checker.on": False})
cherrypy.log.access_file = sys.argv[1]  # an attribute, as CherryPy's docs set it
cherrypy.tree.mount(Root(), "", {"/": {}})
cherrypy.engine.start()
try:
    conn = http.client.HTTPConnection("127.0.0.1", cherrypy.server.bound_addr[1], timeout=10)
    conn.request("GET", "/")
    print(conn.getresponse().status)
    try:
        cherrypy.config.update({"log.access_file": sys.argv[1] + ".late"})
    except ValueError as exc:
        print(exc)
finally:
    cherrypy.engine.exit()
"""


def test_access_log_outputs_set_as_attributes_and_late_keys(tmp_path: Path) -> None:
    """``cherrypy.log.access_file = ...`` reaches the Rust access log (it was only
    read from the config key); ``log.access_file`` updated while serving, which the
    Rust access log cannot follow, is refused naming the key."""
    import subprocess
    import sys

    log_file = tmp_path / "access.log"
    proc = subprocess.run(
        [sys.executable, "-c", SITE_SCRIPT, str(log_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "200"
    assert lines[1].startswith("log.access_file = ") and "while the server is serving" in lines[1]
    assert '"GET / HTTP/1.1" 200 2' in log_file.read_text()
    assert not (tmp_path / "access.log.late").exists()


def test_log_error_log_and_access_log_keys_are_refused() -> None:
    for key in ("error_log", "access_log"):
        with pytest.raises(ValueError, match=rf"log\.{key}: cherrypy_rs does not replace"):
            cherrypy.log.apply(key, None)
