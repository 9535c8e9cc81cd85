"""The access log (written by Rust) and the error log (Python logging), as CherryPy
writes them."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import cherrypy_rs as cherrypy
from cherrypy_rs import _cplogging
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
