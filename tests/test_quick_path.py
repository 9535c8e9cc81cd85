"""The quick path (handler.RequestHandler.quick): a request without a query string or
a body to a path with no tool but the default ones calls the page handler before
building the request and response objects. Each request below is made three times:
the first compiles the path (the usual path), the others take the quick one; all
three answers must be the same, through a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs.handler import RequestHandler
from cherrypy_rs.testing import LiveServer, serve

EVENTS: list[str] = []


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "Hello, world!"

    @cherrypy.expose
    def raw(self) -> bytes:
        return b"raw bytes"

    @cherrypy.expose
    def text(self) -> str:
        return "caf\u00e9 \u2603"

    @cherrypy.expose
    def nothing(self) -> None:
        return None

    @cherrypy.expose
    def created(self) -> str:
        cherrypy.response.status = 201
        cherrypy.response.headers["X-Made"] = "yes"
        return "made"

    @cherrypy.expose
    def plain(self) -> str:
        cherrypy.response.headers["Content-Type"] = "text/plain"
        return "plain"

    @cherrypy.expose
    def reads(self) -> str:
        request = cherrypy.request
        handler = request.handler
        return (
            f"{request.method} {request.path_info} {request.stage} {request.params} "
            f"{request.show_tracebacks} {handler.callable.__name__} {handler.args} "
            f"{request.config.get('custom_value')} {request.is_index}"
        )

    @cherrypy.expose
    def forbidden(self) -> str:
        raise cherrypy.HTTPError(403, "not you")

    @cherrypy.expose
    def moved(self) -> str:
        raise cherrypy.HTTPRedirect("/elsewhere")

    @cherrypy.expose
    def broken(self) -> str:
        raise ValueError("boom")

    @cherrypy.expose
    def inside(self) -> str:
        return "x" + 1  # type: ignore[operator]  # a TypeError inside the handler

    @cherrypy.expose
    def needs(self, value: str) -> str:
        return value

    @cherrypy.expose
    def redirected(self) -> str:
        raise cherrypy.InternalRedirect("/index")

    @cherrypy.expose
    def chunks(self) -> Iterator[bytes]:
        yield b"one "
        yield cherrypy.request.path_info.encode()

    @cherrypy.expose
    def ends(self) -> str:
        cherrypy.request.hooks.attach("on_end_request", lambda: EVENTS.append("end"))
        return "ends"

    @cherrypy.expose
    def default(self, *args: str) -> str:
        return "default " + "/".join(args)


CONFIG = {"/": {"custom_value": "from config", "request.show_tracebacks": False}}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with serve(Root(), "", CONFIG) as server:
        yield server


def answers(live: LiveServer, path: str, method: str, **kwargs: Any) -> list[Any]:
    out = []
    for _ in range(3):
        status, headers, body = live.request(method, path, **kwargs)
        kept = {k: v for k, v in headers.items() if k != "Date"}
        out.append((status, kept, body))
    return out


def thrice(live: LiveServer, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    """The answer to ``path``, the same three times (Date aside), and the same as the
    usual path's (the quick path turned off) but for a traceback's lines."""
    method = kwargs.pop("method", "GET")
    quick = answers(live, path, method, **kwargs)
    assert quick[0] == quick[1] == quick[2]
    RequestHandler.quick_enabled = False
    try:
        usual = answers(live, path, method, **kwargs)
    finally:
        RequestHandler.quick_enabled = True
    assert usual[0] == usual[1] == usual[2]
    assert usual[0] == quick[0]
    return quick[0]


def quick(live: LiveServer, path: str) -> Any:
    """The quick state compiled for ``path`` (None: not a quick path)."""
    return live.tree.apps[""].dispatch_cache[path].compiled.quick


def test_hello_is_quick_and_as_before(live: LiveServer) -> None:
    status, headers, body = thrice(live, "/")
    assert (status, body) == (200, b"Hello, world!")
    assert headers["Content-Type"] == "text/html;charset=utf-8"
    assert headers["Server"] == "CherryPy/18.10.0"
    assert headers["Content-Length"] == "13"
    assert quick(live, "/") is not None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/raw", (200, b"raw bytes")),
        ("/text", (200, "caf\u00e9 \u2603".encode())),
        ("/nothing", (200, b"")),
        ("/created", (201, b"made")),
        ("/plain", (200, b"plain")),
        ("/chunks", (200, b"one /chunks")),
        ("/default/a/b", (200, b"default a/b")),
    ],
)
def test_outputs(live: LiveServer, path: str, expected: tuple[int, bytes]) -> None:
    status, headers, body = thrice(live, path)
    assert (status, body) == expected
    if path == "/created":
        assert headers["X-Made"] == "yes"
    if path == "/plain":
        assert headers["Content-Type"] == "text/plain;charset=utf-8"


def test_the_request_as_the_handler_sees_it(live: LiveServer) -> None:
    _, _, body = thrice(live, "/reads")
    assert body == b"GET /reads handler {} False reads [] from config False"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/forbidden", 403),
        ("/moved", 303),
        ("/broken", 500),
        ("/inside", 500),
        ("/needs", 404),
        ("/redirected", 200),
    ],
)
def test_errors_and_redirects(live: LiveServer, path: str, status: int) -> None:
    got, headers, body = thrice(live, path)
    assert got == status
    if path == "/forbidden":
        assert b"not you" in body
    if path == "/moved":
        assert headers["Location"].endswith("/elsewhere")
    if path == "/redirected":
        assert body == b"Hello, world!"


def test_an_accept_charset_is_negotiated(live: LiveServer) -> None:
    status, headers, body = thrice(live, "/text", headers={"Accept-Charset": "iso-8859-1"})
    assert status == 406  # the snowman has no ISO-8859-1 form: CherryPy answers 406
    status, headers, body = thrice(live, "/", headers={"Accept-Charset": "iso-8859-1"})
    assert (status, body) == (200, b"Hello, world!")
    assert headers["Content-Type"] == "text/html;charset=iso-8859-1"


def test_hooks_a_handler_attaches_run(live: LiveServer) -> None:
    EVENTS.clear()
    thrice(live, "/ends")
    assert EVENTS == ["end"] * 6  # three quick, three the usual way


def test_head_and_query_strings(live: LiveServer) -> None:
    status, headers, body = thrice(live, "/", method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "13")
    assert thrice(live, "/needs?value=v")[2] == b"v"
