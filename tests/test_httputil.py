"""``cherrypy.lib.httputil`` and ``cherrypy._cpcompat``: header elements and their
ordering, header encoding, request headers as CherryPy fills them, ranges, statuses,
URL joining; the socket tests show the same through a server."""

from __future__ import annotations

import json
import socket
from typing import Any, Callable

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs import _cpcompat
from cherrypy_rs.lib import httputil
from cherrypy_rs.lib.httputil import AcceptElement, HeaderElement, HeaderMap

ServeApp = Callable[..., Any]


def test_header_element_parse_and_order() -> None:
    assert HeaderElement.parse('text/html; charset="utf-8" ;level=1') == (
        "text/html",
        {"charset": '"utf-8"', "level": "1"},
    )
    e = HeaderElement.from_str("a/b;x=1")
    assert (e.value, e.params, str(e), bytes(e)) == ("a/b", {"x": "1"}, "a/b;x=1", b"a/b;x=1")
    assert sorted([HeaderElement("b"), HeaderElement("a")])[0].value == "a"


def test_accept_elements_by_qvalue() -> None:
    headers = HeaderMap({"accept": "text/*;q=0.5, text/html;level=1, */*;q=0.1, a/b;q=0.9"})
    elements = headers.elements("Accept")
    assert all(isinstance(e, AcceptElement) for e in elements)
    assert [str(e) for e in elements] == [
        "text/html;level=1",
        "a/b;q=0.9",
        "text/*;q=0.5",
        "*/*;q=0.1",
    ]
    assert [e.qvalue for e in elements] == [1.0, 0.9, 0.5, 0.1]
    assert headers.values("accept") == ["text/html", "a/b", "text/*", "*/*"]
    # Equal qvalues order by text; accept-extensions after q stay with the qvalue.
    same = httputil.header_elements("Accept-Encoding", "gzip;q=1.0, br;q=1.0;ext=x")
    assert [e.value for e in same] == ["gzip", "br"]
    assert same[1].params["q"].params == {"ext": "x"}
    # Other headers: elements sorted by value, commas inside quotes kept.
    links = httputil.header_elements("X-List", 'b, a;t="x,y"')
    assert [str(e) for e in links] == ["b", 'a;t="x,y"']


def test_header_values_for_the_wire() -> None:
    assert httputil.header_value("café") == "café"
    assert httputil.header_value(7) == "7"
    encoded = httputil.header_value("café ☃")
    assert encoded == "=?utf-8?b?Y2Fmw6kg4piD?="
    assert httputil.decode_TEXT(encoded) == "café ☃"
    assert httputil.decode_TEXT_maybe("plain") == "plain"
    headers = HeaderMap({"X-A": "café ☃", "x-b": 1, "X-C": "a\r\nb"})
    assert headers.output() == [
        (b"X-A", b"=?utf-8?b?Y2Fmw6kg4piD?="),
        (b"X-B", b"1"),
        (b"X-C", b"ab"),
    ]


@pytest.mark.parametrize(
    ("header", "length", "expected"),
    [
        (None, 10, None),
        ("bytes=3-6", 10, [(3, 7)]),
        ("bytes=3-", 10, [(3, 10)]),
        ("bytes=-4", 10, [(6, 10)]),
        ("bytes=-40", 10, [(0, 10)]),
        ("bytes=0-0,5-6", 10, [(0, 1), (5, 7)]),
        ("bytes=20-30", 10, []),
        ("bytes=6-3", 10, None),
        ("bytes=-", 10, None),
    ],
)
def test_get_ranges(header: str | None, length: int, expected: Any) -> None:
    assert httputil.get_ranges(header, length) == expected


def test_valid_status_urljoin_protocol() -> None:
    assert httputil.valid_status(None) == (200, "OK", "Request fulfilled, document follows")
    assert httputil.valid_status("404 Gone Fishing")[:2] == (404, "Gone Fishing")
    assert httputil.valid_status(599)[:2] == (599, "")
    for bad in ("abc", 99, 600, "1000 x"):
        with pytest.raises(ValueError, match="Illegal response status"):
            httputil.valid_status(bad)
    assert httputil.urljoin("/app/", "/page") == "/app/page"
    assert httputil.urljoin("", "") == "/"
    assert httputil.urljoin_bytes(b"/a", b"b") == b"/a/b"
    assert httputil.protocol_from_http("HTTP/1.0") == (1, 0)
    sanitized = httputil.SanitizedHost("ho\r\nst")
    assert (sanitized, sanitized.raw) == ("host", "ho\r\nst")
    assert type(httputil.SanitizedHost("host")) is str


def test_cpcompat_helpers() -> None:
    assert _cpcompat.ntob("é") == b"\xe9"
    assert _cpcompat.ntob("é", "utf-8") == b"\xc3\xa9"
    assert _cpcompat.ntou("x") == "x"
    assert _cpcompat.tonative(b"\xe9") == "é"
    assert _cpcompat.tonative("x") == "x"
    with pytest.raises(TypeError, match="must be a native str"):
        _cpcompat.ntob(b"x")  # type: ignore[arg-type]
    assert _cpcompat.escape_html('<a href="x">\'') == '&lt;a href="x"&gt;\''
    assert _cpcompat.escape_html('"', escape_quote=True) == "&quot;"
    assert _cpcompat.base64_decode("Y2Fmw6k=", "utf-8") == "café"
    assert _cpcompat.text_or_bytes == (str, bytes)
    import cherrypy_rs._cpcompat as alias

    assert alias.ntob is _cpcompat.ntob


class Root:
    @cherrypy.expose
    def headers(self) -> str:
        h = cherrypy.request.headers
        return json.dumps(
            {
                "rep": h.get("X-Rep"),
                "remote": h.get("Remote-Addr"),
                "cookies": sorted((k, m.value) for k, m in cherrypy.request.cookie.items()),
            }
        )

    @cherrypy.expose
    def echo(self, name: str) -> str:
        value = cherrypy.request.headers[name]
        cherrypy.response.headers["ETag"] = value
        return value

    @cherrypy.expose
    def snowman(self) -> str:
        cherrypy.response.headers["X-Weather"] = "café ☃"
        cherrypy.response.headers["X-Count"] = 3
        return "ok"

    @cherrypy.expose
    def best(self) -> str:
        return cherrypy.request.headers.elements("Accept")[0].value


def raw_request(live: Any, request: bytes) -> bytes:
    with socket.create_connection((live.host, live.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def test_request_headers_over_a_socket(serve_app: ServeApp) -> None:
    live = serve_app(Root())
    reply = raw_request(
        live,
        b"GET /headers HTTP/1.1\r\nHost: x\r\nX-Rep: one\r\nX-Rep: two\r\n"
        b"Cookie: a=1\r\nCookie: b=2; c=3\r\nConnection: close\r\n\r\n",
    )
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert body == {
        "rep": "one, two",
        "remote": "127.0.0.1",
        "cookies": [["a", "1"], ["b", "2"], ["c", "3"]],
    }


def test_response_header_encoding_over_a_socket(serve_app: ServeApp) -> None:
    live = serve_app(Root())
    status, headers, body = live.get("/snowman")
    assert (status, body) == (200, b"ok")
    assert headers["X-Weather"] == "=?utf-8?b?Y2Fmw6kg4piD?="
    assert headers["X-Count"] == "3"


def test_accept_preference_and_malformed_qvalue(serve_app: ServeApp) -> None:
    live = serve_app(Root())
    accept = "text/plain;q=0.2, application/json, text/html;q=0.9"
    assert live.get("/best", headers={"Accept": accept})[2] == b"application/json"
    status, _headers, body = live.get("/best", headers={"Accept": "a/b, text/html;q=high"})
    assert status == 400
    assert b"Malformed HTTP header: `text/html;q=high`" in body


def test_rfc2047_request_headers_are_decoded(serve_app: ServeApp) -> None:
    live = serve_app(Root())
    status, headers, body = live.get(
        "/echo?name=If-Match", headers={"If-Match": "=?utf-8?q?=E2=84=ABngstr=C3=B6m?="}
    )
    assert (status, body.decode()) == (200, "\u212bngstr\u00f6m")
    # ... and the same text goes back RFC 2047-encoded.
    assert headers["ETag"] == "=?utf-8?b?4oSrbmdzdHLDtm0=?="
    # A Host that is an encoded-word (CherryPy decodes it and removes the newline it
    # smuggles) is not a valid host: the server refuses it before the application.
    status, _headers, body = live.get(
        "/echo?name=Host", headers={"Host": "=?iso-8859-1?q?foo=0Abar?="}
    )
    assert status == 400
