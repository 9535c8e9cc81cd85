"""HTTPError, NotFound, HTTPRedirect, InternalRedirect, uncaught exceptions and custom
error pages, with the statuses, headers and bodies CherryPy 18 gives.

Expected values were recorded against CherryPy 18.10.0 (see tests/test_compat.py for
the live comparison).
"""

from __future__ import annotations

import html
import re
import socket
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

import cherrypy_rs as cherrypy

Live = Any  # cherrypy_rs.testing.LiveServer
ServeApp = Callable[..., Live]
HTML = "text/html;charset=utf-8"
MSG_500 = (
    "The server encountered an unexpected condition which prevented it from fulfilling the request."
)

TEMPLATE = """<!DOCTYPE html PUBLIC
"-//W3C//DTD XHTML 1.0 Transitional//EN"
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>
    <title>%(status)s</title>
    <style type="text/css">
    #powered_by {
        margin-top: 20px;
        border-top: 2px solid black;
        font-style: italic;
    }

    #traceback {
        color: red;
    }
    </style>
</head>
    <body>
        <h2>%(status)s</h2>
        <p>%(message)s</p>
        <pre id="traceback">%(traceback)s</pre>
    <div id="powered_by">
      <span>
        Powered by <a href="http://www.cherrypy.dev">CherryPy %(version)s</a>
      </span>
    </div>
    </body>
</html>
"""

TRACEBACK_RE = re.compile(rb'<pre id="traceback">(.*?)</pre>', re.S)


def error_page(status: str, message: str, traceback: str = "") -> bytes:
    """CherryPy's error page (message and traceback are HTML-escaped as CherryPy does)."""
    values = {"status": status, "message": message, "traceback": traceback, "version": "18.10.0"}
    return (TEMPLATE % {k: html.escape(v, quote=False) for k, v in values.items()}).encode()


def split_traceback(body: bytes) -> tuple[bytes, str]:
    """The page with an empty traceback, and the traceback text (unescaped)."""
    found = TRACEBACK_RE.search(body)
    assert found is not None, body
    blank = body[: found.start(1)] + body[found.end(1) :]
    return blank, html.unescape(found.group(1).decode())


def raw(live: Live, data: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Send raw request bytes on a new connection; read until the server closes."""
    with socket.create_connection((live.host, live.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = [(k, v) for k, _, v in (line.partition(": ") for line in lines)]
    return status, headers, body


def get(live: Live, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("allow_redirects", False)
    return requests.get(live.url(path), timeout=10, **kwargs)


def check_error(
    resp: requests.Response, code: int, reason: str, msg: str, exc: str | None = None
) -> str:
    """Check an error page; ``exc`` ends the traceback's last line (None: no
    traceback). Returns the traceback."""
    assert (resp.status_code, resp.reason) == (code, reason)
    assert resp.headers["Content-Type"] == HTML
    assert resp.headers["Content-Length"] == str(len(resp.content))
    page, traceback = split_traceback(resp.content)
    assert page == error_page(f"{code} {reason}", msg)
    if exc is None:
        assert traceback == ""
    else:
        assert traceback.startswith("Traceback (most recent call last):\n")
        assert traceback.splitlines()[-1].endswith(exc)
    return traceback


# -- the application -------------------------------------------------------------------


class Sub:
    @cherrypy.expose
    def page(self) -> str:
        raise cherrypy.HTTPRedirect("sibling")

    @cherrypy.expose
    def up(self) -> str:
        raise cherrypy.HTTPRedirect("../top?q=1")

    @cherrypy.expose
    def ir(self) -> str:
        raise cherrypy.InternalRedirect("other?z=1")

    @cherrypy.expose
    def other(self, **kwargs: Any) -> str:
        return f"sub other {kwargs} {cherrypy.request.path_info}"


class Quiet:
    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("kaboom quietly")


class Root:
    def __init__(self) -> None:
        self.sub = Sub()
        self.quiet = Quiet()

    # -- HTTPError ---------------------------------------------------------------
    @cherrypy.expose
    def forbidden(self) -> str:
        raise cherrypy.HTTPError(403)

    @cherrypy.expose
    def forbidden_str(self) -> str:
        raise cherrypy.HTTPError("403 Forbidden", "msg")

    @cherrypy.expose
    def unauthorized(self) -> str:
        raise cherrypy.HTTPError(401)

    @cherrypy.expose
    def custom_reason(self) -> str:
        raise cherrypy.HTTPError("499 Custom Reason")

    @cherrypy.expose
    def custom_reason_msg(self) -> str:
        raise cherrypy.HTTPError("499 Custom Reason", "custom message")

    @cherrypy.expose
    def unknown_code(self) -> str:
        raise cherrypy.HTTPError(499)

    @cherrypy.expose
    def out_of_range(self) -> str:
        raise cherrypy.HTTPError(600)

    @cherrypy.expose
    def escaped(self) -> str:
        raise cherrypy.HTTPError(400, "<b>bold & raw</b>")

    @cherrypy.expose
    def notfound(self) -> str:
        raise cherrypy.NotFound()

    @cherrypy.expose
    def notfound_path(self) -> str:
        raise cherrypy.NotFound("/x")

    @cherrypy.expose
    def handle(self, x: str) -> str:
        with cherrypy.HTTPError.handle(ValueError, 400, "bad int"):
            return str(int(x))

    # -- HTTPRedirect ------------------------------------------------------------
    @cherrypy.expose
    def redirect(self) -> str:
        raise cherrypy.HTTPRedirect("/target")

    @cherrypy.expose
    def redirect_code(self, code: str) -> str:
        raise cherrypy.HTTPRedirect("/target", int(code))

    @cherrypy.expose
    def redirect_multi(self) -> str:
        raise cherrypy.HTTPRedirect(["/a", "/b?x=1&y=<2>"], 300)

    @cherrypy.expose
    def redirect_relative(self) -> str:
        raise cherrypy.HTTPRedirect("target?q=1")

    @cherrypy.expose
    def redirect_absolute(self) -> str:
        raise cherrypy.HTTPRedirect("http://example.com/x?a=1&b=2")

    # -- InternalRedirect --------------------------------------------------------
    @cherrypy.expose
    def internal(self, **kwargs: Any) -> str:
        raise cherrypy.InternalRedirect("/show")

    @cherrypy.expose
    def internal_qs(self, **kwargs: Any) -> str:
        raise cherrypy.InternalRedirect("/show?x=1")

    @cherrypy.expose
    def internal_arg(self, **kwargs: Any) -> str:
        raise cherrypy.InternalRedirect("/show", "y=2")

    @cherrypy.expose
    def internal_closed(self) -> str:
        raise cherrypy.InternalRedirect("/prev_closed")

    @cherrypy.expose
    def prev_closed(self) -> str:
        return repr(cherrypy.request.prev.closed)

    @cherrypy.expose
    def show(self, **kwargs: Any) -> str:
        req = cherrypy.request
        prev = req.prev
        return repr(
            (
                req.method,
                req.path_info,
                req.query_string,
                kwargs,
                prev.path_info if prev is not None else None,
            )
        )

    @cherrypy.expose
    def loop(self, **kwargs: Any) -> str:
        raise cherrypy.InternalRedirect("/loop")

    @cherrypy.expose
    def ping(self) -> str:
        raise cherrypy.InternalRedirect("/pong")

    @cherrypy.expose
    def pong(self) -> str:
        raise cherrypy.InternalRedirect("/ping")

    @cherrypy.expose
    def step(self, n: str = "0") -> str:
        if n == "0":
            raise cherrypy.InternalRedirect("/step?n=1")
        return f"step {n}"

    # -- uncaught exceptions, status, headers --------------------------------------
    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("kaboom <&>")

    @cherrypy.expose
    def bad_status(self, status: str) -> str:
        cherrypy.response.status = int(status) if status.isdigit() else status
        return "not sent"

    @cherrypy.expose
    def headers_then_error(self, kind: str) -> str:
        cherrypy.response.headers["X-Custom"] = "kept"
        cherrypy.response.headers["Content-Type"] = "application/json"
        cherrypy.response.headers["ETag"] = '"abc"'
        cherrypy.response.headers["Vary"] = "Accept"
        cherrypy.response.cookie["err"] = "1"
        if kind == "http":
            raise cherrypy.HTTPError(403)
        if kind == "redirect":
            raise cherrypy.HTTPRedirect("/target")
        raise ValueError("after headers")


ROOT_CONFIG = {"/quiet": {"request.show_tracebacks": False}}


@pytest.fixture
def live(serve_app: ServeApp) -> Live:
    return serve_app(Root(), "", ROOT_CONFIG)


@pytest.fixture
def production(serve_app: ServeApp, restore_config: None) -> Live:
    cherrypy.config.update({"environment": "production"})
    return serve_app(Root(), "", ROOT_CONFIG)


# -- HTTPError -------------------------------------------------------------------------


def test_http_error_int(live: Live) -> None:
    check_error(
        get(live, "/forbidden"),
        403,
        "Forbidden",
        "Request forbidden -- authorization will not help",
        "HTTPError: (403, None)",
    )
    check_error(
        get(live, "/unauthorized"),
        401,
        "Unauthorized",
        "No permission -- see authorization schemes",
        "HTTPError: (401, None)",
    )


def test_http_error_str_and_message(live: Live) -> None:
    check_error(
        get(live, "/forbidden_str"),
        403,
        "Forbidden",
        "msg",
        "HTTPError: ('403 Forbidden', 'msg')",
    )


def test_http_error_custom_reason(live: Live) -> None:
    check_error(
        get(live, "/custom_reason"),
        499,
        "Custom Reason",
        "",
        "HTTPError: ('499 Custom Reason', None)",
    )
    check_error(
        get(live, "/custom_reason_msg"),
        499,
        "Custom Reason",
        "custom message",
        "HTTPError: ('499 Custom Reason', 'custom message')",
    )


def test_http_error_unknown_code_has_empty_reason(live: Live) -> None:
    status, _, body = raw(
        live, b"GET /unknown_code HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == "HTTP/1.1 499 "
    page, _ = split_traceback(body)
    assert page == error_page("499 ", "")


def test_http_error_unknown_code_page(live: Live) -> None:
    resp = get(live, "/unknown_code")
    assert resp.status_code == 499
    page, _ = split_traceback(resp.content)
    assert page == error_page("499 ", "")


def test_http_error_out_of_range_is_500(live: Live) -> None:
    check_error(
        get(live, "/out_of_range"),
        500,
        "Internal Server Error",
        "Illegal response status from server (600 is out of range).",
        "HTTPError: (500, 'Illegal response status from server (600 is out of range).')",
    )


def test_http_error_message_is_escaped(live: Live) -> None:
    resp = get(live, "/escaped")
    assert b"<p>&lt;b&gt;bold &amp; raw&lt;/b&gt;</p>" in resp.content
    check_error(
        resp, 400, "Bad Request", "<b>bold & raw</b>", "HTTPError: (400, '<b>bold & raw</b>')"
    )


def test_http_error_attributes() -> None:
    err = cherrypy.HTTPError(403, "m")
    assert (err.status, err.code, err.reason, err._message) == (403, 403, "Forbidden", "m")
    err = cherrypy.HTTPError("499 Custom Reason")
    assert (err.status, err.code, err.reason) == ("499 Custom Reason", 499, "Custom Reason")
    assert err.args == ("499 Custom Reason", None)
    assert issubclass(cherrypy.NotFound, cherrypy.HTTPError)
    with pytest.raises(ValueError, match="status must be between 400 and 599"):
        cherrypy.HTTPError(302)


def test_http_error_handle(live: Live) -> None:
    assert get(live, "/handle?x=1").text == "1"
    check_error(
        get(live, "/handle?x=z"),
        400,
        "Bad Request",
        "bad int",
        "HTTPError: (400, 'bad int')",
    )


def test_not_found(live: Live) -> None:
    check_error(
        get(live, "/notfound"),
        404,
        "Not Found",
        "The path '/notfound' was not found.",
        "NotFound: (404, \"The path '/notfound' was not found.\")",
    )
    check_error(
        get(live, "/notfound_path"),
        404,
        "Not Found",
        "The path '/x' was not found.",
        "NotFound: (404, \"The path '/x' was not found.\")",
    )


def test_not_found_includes_the_script_name(serve_app: ServeApp) -> None:
    live = serve_app(Root(), "/app")
    resp = get(live, "/app/notfound")
    assert resp.status_code == 404
    assert split_traceback(resp.content)[0] == error_page(
        "404 Not Found", "The path '/app/notfound' was not found."
    )
    resp = get(live, "/app/nope/deeper")
    assert split_traceback(resp.content)[0] == error_page(
        "404 Not Found", "The path '/app/nope/deeper' was not found."
    )


def test_unknown_path_has_a_traceback_in_development(live: Live) -> None:
    check_error(
        get(live, "/nope"),
        404,
        "Not Found",
        "The path '/nope' was not found.",
        "NotFound: (404, \"The path '/nope' was not found.\")",
    )


def test_head_on_an_error(live: Live) -> None:
    status, headers, body = raw(
        live, b"HEAD /forbidden HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == "HTTP/1.1 403 Forbidden"
    assert ("Content-Type", HTML) in headers
    length = int(dict(headers)["Content-Length"])
    assert length == len(get(live, "/forbidden").content)
    assert body == b""


# -- HTTPRedirect ----------------------------------------------------------------------


REDIRECT_MESSAGES = {
    300: ("Multiple Choices", "This resource can be found at "),
    301: ("Moved Permanently", "This resource has permanently moved to "),
    302: ("Found", "This resource resides temporarily at "),
    303: ("See Other", "This resource can be found at "),
    307: ("Temporary Redirect", "This resource has moved temporarily to "),
    308: ("Permanent Redirect", "This resource has been moved to "),
}


def redirect_body(code: int, *urls: str) -> bytes:
    msg = REDIRECT_MESSAGES[code][1]
    parts = [
        f'{msg}<a href="{html.escape(u, quote=False)}">{html.escape(u, quote=False)}</a>.'
        for u in urls
    ]
    return "<br />\n".join(parts).encode()


def test_redirect_defaults_to_303_on_http11(live: Live) -> None:
    status, headers, body = raw(
        live,
        f"GET /redirect HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    target = live.url("/target")
    assert status == "HTTP/1.1 303 See Other"
    assert ("Location", target) in headers
    assert ("Content-Type", HTML) in headers
    assert ("Content-Length", str(len(body))) in headers
    assert body == (f'This resource can be found at <a href="{target}">{target}</a>.'.encode())


def test_redirect_defaults_to_302_on_http10(live: Live) -> None:
    for method in ("GET", "POST"):
        status, headers, body = raw(
            live,
            f"{method} /redirect HTTP/1.0\r\nHost: 127.0.0.1:{live.port}\r\n"
            "Content-Length: 0\r\n\r\n".encode(),
        )
        target = live.url("/target")
        # (cheroot says HTTP/1.1 in the status line, hyper HTTP/1.0: both are allowed.)
        assert status.split(" ", 1)[1] == "302 Found"
        assert ("Location", target) in headers
        assert body == (
            f'This resource resides temporarily at <a href="{target}">{target}</a>.'.encode()
        )


@pytest.mark.parametrize("code", sorted(REDIRECT_MESSAGES))
def test_redirect_codes(live: Live, code: int) -> None:
    resp = get(live, f"/redirect_code?code={code}")
    target = live.url("/target")
    assert (resp.status_code, resp.reason) == (code, REDIRECT_MESSAGES[code][0])
    assert resp.headers["Location"] == target
    assert resp.headers["Content-Type"] == HTML
    assert resp.headers["Content-Length"] == str(len(resp.content))
    assert resp.content == redirect_body(code, target)


def test_redirect_300_with_a_list(live: Live) -> None:
    resp = get(live, "/redirect_multi")
    first, second = live.url("/a"), live.url("/b?x=1&y=<2>")
    assert (resp.status_code, resp.headers["Location"]) == (300, first)
    assert (
        resp.content
        == (
            f'This resource can be found at <a href="{first}">{first}</a>.<br />\n'
            "This resource can be found at "
            f'<a href="{live.base}/b?x=1&amp;y=&lt;2&gt;">{live.base}/b?x=1&amp;y=&lt;2&gt;</a>.'
        ).encode()
    )
    assert resp.content == redirect_body(300, first, second)


def test_redirect_304_has_no_body_and_no_content_type(live: Live) -> None:
    status, headers, body = raw(
        live, b"GET /redirect_code?code=304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == "HTTP/1.1 304 Not Modified"
    names = {k for k, _ in headers}
    assert "Content-Type" not in names
    assert "Content-Length" not in names
    assert "Location" not in names
    assert {"Server", "Date"} <= names
    assert body == b""


def test_redirect_305(live: Live) -> None:
    resp = get(live, "/redirect_code?code=305")
    assert (resp.status_code, resp.reason) == (305, "Use Proxy")
    assert resp.headers["Location"] == live.url("/target")
    assert resp.headers["Content-Type"] == "text/html"
    assert (resp.headers["Content-Length"], resp.content) == ("0", b"")


def test_redirect_with_a_non_3xx_status_is_500(live: Live) -> None:
    check_error(
        get(live, "/redirect_code?code=200"),
        500,
        "Internal Server Error",
        MSG_500,
        "ValueError: status must be between 300 and 399.",
    )


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/redirect_relative", "/target?q=1"),
        ("/sub/page", "/sub/sibling"),
        ("/sub/page/", "/sub/sibling"),
        ("/sub/up", "/top?q=1"),
    ],
)
def test_relative_redirect_is_made_absolute(live: Live, path: str, location: str) -> None:
    resp = get(live, path)
    target = live.url(location)
    assert (resp.status_code, resp.headers["Location"]) == (303, target)
    assert resp.content == redirect_body(303, target)


def test_redirect_in_a_mounted_app(serve_app: ServeApp) -> None:
    live = serve_app(Root(), "/app")
    # An absolute path is relative to the host, a relative one to the current URL.
    resp = get(live, "/app/redirect")
    assert resp.headers["Location"] == live.url("/target")
    resp = get(live, "/app/redirect_relative")
    assert resp.headers["Location"] == live.url("/app/target?q=1")
    resp = get(live, "/app/sub/up")
    assert resp.headers["Location"] == live.url("/app/top?q=1")


def test_absolute_redirect_is_kept(live: Live) -> None:
    resp = get(live, "/redirect_absolute")
    assert resp.headers["Location"] == "http://example.com/x?a=1&b=2"
    assert resp.content == redirect_body(303, "http://example.com/x?a=1&b=2")


def test_redirect_uses_the_host_header(live: Live) -> None:
    status, headers, body = raw(
        live, b"GET /redirect HTTP/1.1\r\nHost: example.org:81\r\nConnection: close\r\n\r\n"
    )
    assert status == "HTTP/1.1 303 See Other"
    assert ("Location", "http://example.org:81/target") in headers
    assert body == redirect_body(303, "http://example.org:81/target")


# -- InternalRedirect ------------------------------------------------------------------


def test_internal_redirect_drops_the_query_string(live: Live) -> None:
    resp = get(live, "/internal?orig=1")
    assert (resp.status_code, resp.text) == (200, "('GET', '/show', '', {}, '/internal')")
    assert resp.headers["Content-Length"] == str(len(resp.content))


def test_internal_redirect_with_a_query_string(live: Live) -> None:
    resp = get(live, "/internal_qs?orig=1")
    assert resp.text == "('GET', '/show', 'x=1', {'x': '1'}, '/internal_qs')"
    resp = get(live, "/internal_arg?orig=1")
    assert resp.text == "('GET', '/show', 'y=2', {'y': '2'}, '/internal_arg')"


def test_internal_redirect_is_a_get_without_the_body(live: Live) -> None:
    resp = requests.post(
        live.url("/internal?a=1"),
        data="b=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert (resp.status_code, resp.text) == (200, "('GET', '/show', '', {}, '/internal')")


def test_internal_redirect_closes_the_previous_request(live: Live) -> None:
    """As in CherryPy (test_core's ``cousin``): ``request.prev`` is closed (its
    ``on_end_request`` ran) before the redirect's handler runs."""
    assert get(live, "/internal_closed").text == "True"


def test_internal_redirect_relative_path(live: Live) -> None:
    resp = get(live, "/sub/ir")
    assert (resp.status_code, resp.text) == (200, "sub other {'z': '1'} /sub/other")


@pytest.mark.parametrize("path", ["/loop", "/loop?x=1", "/ping"])
def test_internal_redirect_loop_is_500(live: Live, path: str) -> None:
    resp = get(live, path)
    assert (resp.status_code, resp.reason) == (500, "Internal Server Error")


def test_internal_redirect_loop_body(live: Live) -> None:
    resp = get(live, "/loop")
    assert resp.headers["Content-Type"] == "text/plain"
    assert resp.content.startswith(b"Unrecoverable error in the server.\n")
    assert b"RuntimeError: InternalRedirector visited the same URL twice: '/loop'" in resp.content


def test_internal_redirect_to_same_path_other_query(live: Live) -> None:
    resp = get(live, "/step")
    assert (resp.status_code, resp.text) == (200, "step 1")


# -- uncaught exceptions ---------------------------------------------------------------


def test_uncaught_exception_is_500_with_traceback(live: Live) -> None:
    traceback = check_error(
        get(live, "/boom"), 500, "Internal Server Error", MSG_500, "ValueError: kaboom <&>"
    )
    assert 'raise ValueError("kaboom <&>")' in traceback
    resp = get(live, "/boom")
    assert b"ValueError: kaboom &lt;&amp;&gt;" in resp.content


def test_traceback_hidden_per_path(live: Live) -> None:
    resp = get(live, "/quiet/boom")
    check_error(resp, 500, "Internal Server Error", MSG_500)
    assert resp.headers["Content-Length"] == "825"


def test_production_hides_tracebacks(production: Live) -> None:
    resp = get(production, "/boom")
    check_error(resp, 500, "Internal Server Error", MSG_500)
    assert resp.content == error_page("500 Internal Server Error", MSG_500)
    assert resp.headers["Content-Length"] == "825"
    resp = get(production, "/nope")
    assert resp.content == error_page("404 Not Found", "The path '/nope' was not found.")
    assert resp.headers["Content-Length"] == "738"
    resp = get(production, "/forbidden")
    assert resp.content == error_page(
        "403 Forbidden", "Request forbidden -- authorization will not help"
    )


def test_invalid_response_status_is_500(live: Live) -> None:
    for status, msg in [
        ("abc", "Illegal response status from server ('abc' is non-numeric)."),
        ("700", "Illegal response status from server (700 is out of range)."),
        ("99", "Illegal response status from server (99 is out of range)."),
    ]:
        resp = get(live, f"/bad_status?status={status}")
        assert (resp.status_code, resp.reason) == (500, "Internal Server Error")
        assert split_traceback(resp.content)[0] == error_page("500 Internal Server Error", msg)
        assert b"not sent" not in resp.content


# -- headers set before raising --------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("http", "HTTP/1.1 403 Forbidden"),
        ("value", "HTTP/1.1 500 Internal Server Error"),
        ("redirect", "HTTP/1.1 303 See Other"),
    ],
)
def test_headers_and_cookies_survive_errors(live: Live, kind: str, status: str) -> None:
    got_status, headers, body = raw(
        live,
        f"GET /headers_then_error?kind={kind} HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert got_status == status
    names = {k.lower(): v for k, v in headers}
    assert names["x-custom"] == "kept"
    assert names["set-cookie"] == "err=1"
    assert names["content-type"] == HTML
    assert names["content-length"] == str(len(body))
    # clean_headers drops these on error pages, not on redirects.
    if kind == "redirect":
        assert (names["etag"], names["vary"]) == ('"abc"', "Accept")
        assert names["location"] == "http://x/target"
    else:
        assert "etag" not in names
        assert "vary" not in names


# -- custom error pages ----------------------------------------------------------------


def page_callable(status: str, message: str, traceback: str, version: str) -> str:
    return f"custom {status} {message} {version}"


def short_page(**kwargs: Any) -> str:
    return "no"


def failing_page(**kwargs: Any) -> str:
    raise KeyError("oops")


def test_error_page_callable_and_ie_padding(serve_app: ServeApp) -> None:
    live = serve_app(
        Root(),
        "",
        {
            "/": {
                "error_page.404": page_callable,
                "error_page.403": short_page,
                "error_page.499": short_page,
            }
        },
    )
    resp = get(live, "/nope")
    expected = b"custom 404 Not Found The path '/nope' was not found. 18.10.0"
    assert resp.status_code == 404
    # Error pages shorter than 513 (404) or 257 (403) bytes are padded with spaces.
    assert resp.content == expected + b" " * (513 - len(expected))
    assert resp.headers["Content-Length"] == "513"
    assert resp.headers["Content-Type"] == "text/html"
    resp = get(live, "/notfound_path")
    expected = b"custom 404 Not Found The path '/x' was not found. 18.10.0"
    assert resp.content == expected + b" " * (513 - len(expected))
    resp = get(live, "/forbidden")
    assert (resp.status_code, resp.content) == (403, b"no" + b" " * 255)
    assert resp.headers["Content-Length"] == "257"
    resp = get(live, "/custom_reason")
    assert (resp.status_code, resp.content, resp.headers["Content-Length"]) == (499, b"no", "2")


def test_error_page_template_file(serve_app: ServeApp, tmp_path: Path) -> None:
    template = tmp_path / "error.html"
    template.write_text("T|%(status)s|%(message)s|%(traceback)s|%(version)s")
    live = serve_app(
        Root(),
        "",
        {"/": {"error_page.default": str(template), "request.show_tracebacks": False}},
    )
    resp = get(live, "/escaped")
    expected = b"T|400 Bad Request|&lt;b&gt;bold &amp; raw&lt;/b&gt;||18.10.0"
    assert resp.status_code == 400
    assert resp.content == expected + b" " * (513 - len(expected))
    assert resp.headers["Content-Type"] == HTML
    resp = get(live, "/custom_reason_msg")
    assert resp.content == b"T|499 Custom Reason|custom message||18.10.0"


def test_failing_error_page(serve_app: ServeApp, tmp_path: Path) -> None:
    missing = tmp_path / "missing.html"
    live = serve_app(
        Root(),
        "",
        {
            "/": {
                "error_page.403": failing_page,
                "error_page.404": str(missing),
                "request.show_tracebacks": False,
            }
        },
    )
    resp = get(live, "/forbidden_str")
    assert resp.content == error_page("403 Forbidden", "").replace(
        b"<p></p>",
        b"<p>msg<br />In addition, the custom error page failed:\n<br />KeyError: 'oops'\n</p>",
    )
    resp = get(live, "/nope")
    assert resp.status_code == 404
    assert resp.content == error_page("404 Not Found", "").replace(
        b"<p></p>",
        b"<p>The path '/nope' was not found.<br />In addition, the custom error page "
        b"failed:\n<br />FileNotFoundError: [Errno 2] No such file or directory: '"
        + str(missing).encode()
        + b"'\n</p>",
    )
