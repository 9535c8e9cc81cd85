"""The WSGI gateway's common answer — a plain list of ``bytes`` after a valid head — is
made in Rust (``_core.StartResponse.reply_list``); everything else goes through the
Python gateway. These tests check that both give the same answers on the wire: the
head, the joined body, a declared Content-Length, the reason phrase, ``write()``, bytes
subclasses, ISO-8859-1 header values, and the errors ``start_response`` reports
(``test_wsgi_gateway.py`` covers the other bodies, most of them through the Python path).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from rawhttp import Client, get

from cherrypy_rs import _core
from cherrypy_rs.testing import LiveServer, serve

TEXT = [("Content-Type", "text/plain")]


class Subclassed(bytes):
    """A bytes subclass: valid in a body, but not for the Rust path."""


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[Any]:
    path = environ["PATH_INFO"]
    if path == "/hello":
        start_response("200 OK", [*TEXT, ("Content-Length", "5")])
        return [b"hello"]
    if path == "/chunks":
        start_response("200 OK", TEXT)
        return [b"a", b"", b"bc"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/reason":
        start_response("200 Fine Thanks", TEXT)
        return [b"fine"]
    if path == "/unknown-code":
        start_response("299 ", TEXT)
        return [b"odd"]
    if path == "/declared-shorter":
        start_response("200 OK", [*TEXT, ("Content-Length", "3")])
        return [b"hello"]
    if path == "/write":
        write = start_response("200 OK", TEXT)
        write(b"written; ")
        return [b"returned"]
    if path == "/subclass":
        start_response("200 OK", TEXT)
        return [Subclassed(b"sub"), b"class"]
    if path == "/latin1":
        start_response("200 OK", [*TEXT, ("X-Name", "caf\xe9")])
        return [b"latin1"]
    if path == "/exc-info":
        start_response("200 OK", TEXT)
        try:
            raise ValueError("changed my mind")
        except ValueError:
            start_response("503 Service Unavailable", TEXT, sys.exc_info())
        return [b"replaced"]
    if path == "/twice":
        start_response("200 OK", TEXT)
        start_response("200 OK", TEXT)
        return [b"never"]
    if path == "/int-status":
        start_response(200, TEXT)
        return [b"never"]
    if path == "/tuple-headers":
        start_response("200 OK", tuple(TEXT))
        return [b"never"]
    if path == "/hop":
        start_response("200 OK", [*TEXT, ("Keep-Alive", "timeout=5")])
        return [b"never"]
    if path == "/bad-code":
        start_response("2x0 OK", TEXT)
        return [b"never"]
    if path == "/str-item":
        start_response("200 OK", TEXT)
        return ["text"]
    if path == "/write-before":
        start_response.write(b"x")  # type: ignore[attr-defined]
        return [b"never"]
    start_response("404 Not Found", TEXT)
    return [b"no such path"]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + "\n" + (record.exc_text or ""))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with serve(apps={"/": app}) as server:
        yield server


@pytest.fixture
def errors() -> Iterator[list[str]]:
    handler = Collect()
    logger = logging.getLogger("cherrypy.error")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def fetch(live: LiveServer, path: str) -> Any:
    with Client(live.port) as c:
        c.send(get(path))
        return c.response()


def test_a_list_of_bytes_is_answered_whole(live: LiveServer) -> None:
    resp = fetch(live, "/hello")
    assert (resp.status, resp.reason, resp.body) == (200, "OK", b"hello")
    assert resp.header("Content-Type") == "text/plain"
    assert resp.header("Content-Length") == "5"
    resp = fetch(live, "/chunks")
    assert (resp.status, resp.body) == (200, b"abc")
    assert resp.header("Content-Length") == "3"
    resp = fetch(live, "/empty")
    assert (resp.status, resp.body) == (204, b"")


def test_the_reason_phrase_is_the_applications(live: LiveServer) -> None:
    resp = fetch(live, "/reason")
    assert (resp.status, resp.reason, resp.body) == (200, "Fine Thanks", b"fine")
    resp = fetch(live, "/unknown-code")
    assert (resp.status, resp.reason, resp.body) == (299, "", b"odd")


def test_a_declared_length_cuts_the_body(live: LiveServer) -> None:
    resp = fetch(live, "/declared-shorter")
    assert (resp.status, resp.body) == (200, b"hel")


def test_what_the_python_gateway_answers(live: LiveServer) -> None:
    assert fetch(live, "/write").body == b"written; returned"
    assert fetch(live, "/subclass").body == b"subclass"
    resp = fetch(live, "/latin1")
    assert resp.header("X-Name") == "caf\xe9"
    resp = fetch(live, "/exc-info")
    assert (resp.status, resp.body) == (503, b"replaced")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/twice", "start_response() called a second time without exc_info"),
        ("/int-status", "the status must be a str like '200 OK', not 200"),
        ("/tuple-headers", "the headers must be a list of (name, value), not <class 'tuple'>"),
        ("/hop", "the application set the hop-by-hop header 'Keep-Alive'"),
        ("/bad-code", "the status '2x0 OK' does not start with a 3-digit code"),
        ("/str-item", "the application's body must be bytes, not str"),
        ("/write-before", "write() called before start_response()"),
    ],
)
def test_broken_applications_are_a_500_that_says_why(
    live: LiveServer, errors: list[str], path: str, message: str
) -> None:
    resp = fetch(live, path)
    assert resp.status == 500
    assert b"never" not in resp.body
    assert any(message in line for line in errors), errors


def test_start_response_keeps_what_it_is_given() -> None:
    start = _core.StartResponse()
    assert (start.status, start.headers, start.written, start.sent) == (None, [], [], False)
    headers = [("Content-Type", "text/plain")]
    write = start("200 OK", headers)
    write(b"a")
    assert start.status == "200 OK"
    assert start.headers is headers
    assert start.written == [b"a"]
    assert start.reply_list([b"b"]) is None, "written data: the Python gateway's case"
    start.sent = True
    try:
        raise KeyError("late")
    except KeyError:
        with pytest.raises(KeyError, match="late"):
            start("500 Internal Server Error", headers, sys.exc_info())
