"""HTTP/1.1 protocol edges, as raw bytes over a socket (RFC 9110 / RFC 9112).

Every test sends exact bytes and asserts the status line, the headers that matter and
whether the server closed the connection (``recv()`` returning ``b""`` within a bounded
time). Servers run on 127.0.0.1 port 0 through ``cherrypy_rs.testing.serve``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from rawhttp import Client, Response, get, poll, refused

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import serve

# -- the application ---------------------------------------------------------------------


class Root:
    """Handlers the tests talk to; ``calls`` counts requests per handler."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.entered = threading.Event()
        self.release = threading.Event()

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    def path(self, *atoms: str) -> str:
        return "/".join(atoms)

    @cherrypy.expose
    def echo(self) -> bytes:
        return cherrypy.request.body.read()

    @cherrypy.expose
    def secret(self) -> str:
        self._count("secret")
        return "secret"

    @cherrypy.expose
    def block(self) -> str:
        self.entered.set()
        self.release.wait(10)
        return "done"

    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("handler failure")

    @cherrypy.expose
    @cherrypy.config(**{"tools.encode.on": False})
    def custom_cl(self, cl: str, chunks: str | list[str] = ()) -> list[bytes]:
        cherrypy.response.headers["Content-Length"] = cl
        return [c.encode() for c in ([chunks] if isinstance(chunks, str) else chunks)]

    @cherrypy.expose
    @cherrypy.config(**{"response.stream": True})
    def streamed(self) -> Iterator[bytes]:
        yield b"one"
        yield b"two"


@contextmanager
def served(**settings: Any) -> Iterator[tuple[Root, int]]:
    root = Root()
    with serve(root, **settings) as live:
        try:
            yield root, live.port
        finally:
            root.release.set()


def assert_ok(client: Client, body: bytes = b"hello", version: str = "HTTP/1.1") -> Response:
    resp = client.response()
    assert (resp.version, resp.status, resp.body) == (version, 200, body)
    return resp


# -- binding -----------------------------------------------------------------------------


def test_port_is_known_when_start_returns() -> None:
    with serve(Root()) as live:
        server = live.server
        assert live.host == "127.0.0.1"
        assert live.port > 0
        assert live.server.bound_addr == ("127.0.0.1", live.port)
        assert live.server.core.bound_address == ("127.0.0.1", live.port)
        # No wait: the socket listens before start() returns.
        with Client(live.port) as c:
            c.send(get())
            assert_ok(c)
    # Stopped: the configured address again (CherryPy's bound_addr, port 0 included).
    assert server.bound_addr == server.bind_addr == ("127.0.0.1", 0)


def test_port_in_use_names_host_and_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        with pytest.raises(OSError) as info, serve(Root(), socket_port=port):
            pass
    message = str(info.value)
    assert "127.0.0.1" in message
    assert str(port) in message


def test_unknown_server_key_is_named() -> None:
    with pytest.raises(ValueError, match=r"server\.bogus_key"), serve(Root(), bogus_key=1):
        pass


def test_header_size_below_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match=r"server\.max_request_header_size"):
        with serve(Root(), max_request_header_size=127):
            pass


# -- persistent connections (RFC 9112 §9.3) ---------------------------------------------


def test_http11_keeps_alive() -> None:
    with served() as (_, port), Client(port) as c:
        for _ in range(2):
            c.send(get())
            resp = assert_ok(c)
            assert resp.header("Connection") is None
        c.send(get("/path/again"))
        assert_ok(c, b"again")


def test_http10_closes_by_default() -> None:
    with served() as (_, port), Client(port) as c:
        c.send(get(version="HTTP/1.0"))
        resp = assert_ok(c, version="HTTP/1.0")
        assert resp.header("Connection") is None
        assert c.closed()


def test_http10_keep_alive_on_request() -> None:
    with served() as (_, port), Client(port) as c:
        for _ in range(2):
            c.send(get(version="HTTP/1.0", extra="Connection: keep-alive\r\n"))
            resp = assert_ok(c, version="HTTP/1.0")
            # cheroot's spelling; RFC 2068 §19.7.1: socket_timeout (10 s by default).
            assert resp.header("Connection") == "Keep-Alive"
            assert resp.header("Keep-Alive") == "timeout=10"
        c.send(get(version="HTTP/1.0"))
        assert_ok(c, version="HTTP/1.0")
        assert c.closed()


def test_http10_keep_alive_ends_a_stream_without_length_by_closing() -> None:
    # HTTP/1.0 has no chunked coding: no Keep-Alive promised, the close ends the body.
    with served() as (_, port), Client(port) as c:
        c.send(get("/streamed", version="HTTP/1.0", extra="Connection: Keep-Alive\r\n"))
        resp = c.response()
        assert (resp.status, resp.body) == (200, b"onetwo")
        assert resp.header("Connection") is None
        assert resp.header("Keep-Alive") is None
        assert c.closed()


def test_pipelined_requests_are_answered_in_order() -> None:
    with served() as (_, port), Client(port) as c:
        c.send(get("/path/a") + get("/path/b") + get("/path/c", extra="Connection: close\r\n"))
        assert [c.response().body for _ in range(3)] == [b"a", b"b", b"c"]
        assert c.closed()


# -- request bodies ----------------------------------------------------------------------


def test_chunked_body_with_extensions_and_trailers() -> None:
    body = (
        b"5;name=value\r\nhello\r\n"
        b'6;quoted="a b";flag\r\n world\r\n'
        b"1\r\n!\r\n"
        b"0\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n"
    )
    head = b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
    with served() as (_, port), Client(port) as c:
        c.send(head + body)
        assert_ok(c, b"hello world!")
        # The body was framed exactly: the next request on the connection is served.
        c.send(get())
        assert_ok(c)


def test_expect_100_continue() -> None:
    with served() as (_, port), Client(port) as c:
        c.send(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = c.response()
        assert (interim.version, interim.status, interim.reason) == ("HTTP/1.1", 100, "Continue")
        assert interim.headers == []
        c.send(b"hello")
        assert_ok(c)


def test_expect_100_continue_with_too_large_body() -> None:
    with served(max_request_body_size=1000) as (_, port), Client(port) as c:
        c.send(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        resp = c.response()
        assert resp.status == 413
        assert resp.header("Connection") == "close"
        assert c.closed()


# -- time limits (server.socket_timeout) ------------------------------------------------


def test_slow_request_head_is_cut() -> None:
    with served(socket_timeout=0.5) as (root, port), Client(port) as c:
        start = time.monotonic()
        c.send(b"GET / HTTP/1.1\r\nHost: test\r\n")
        # The head never completes: cheroot's 408 (the request line arrived), then close.
        resp = c.response()
        assert (resp.status, resp.body) == (408, b"")
        assert c.closed(timeout=5.0)
        assert 0.3 <= time.monotonic() - start < 5.0
        assert root.calls == {}


def test_silent_new_connection_gets_408_and_a_later_idle_one_does_not() -> None:
    # cheroot: 408 on a connection that never sent a request; between two requests
    # the idle connection just closes.
    with served(socket_timeout=0.5) as (_, port):
        with Client(port) as c:
            resp = c.response()
            assert (resp.status, resp.reason) == (408, "Request Timeout")
            assert resp.header("Content-Type") == "text/plain"
            assert c.closed(timeout=5.0)
        with Client(port) as c:
            c.send(get())
            assert_ok(c)
            assert c.closed(timeout=5.0)
            assert c.buf == b""


def test_idle_keep_alive_connection_is_closed() -> None:
    with served(socket_timeout=0.5) as (_, port), Client(port) as c:
        c.send(get())
        assert_ok(c)
        start = time.monotonic()
        assert c.closed(timeout=5.0)
        assert 0.3 <= time.monotonic() - start < 5.0


# -- size limits -------------------------------------------------------------------------


def test_header_size_limit() -> None:
    with served(max_request_header_size=4096) as (_, port):
        with Client(port) as c:
            c.send(get(extra=f"X-Small: {'a' * 2048}\r\n"))
            assert_ok(c)
        with Client(port) as c:
            c.send(get(extra=f"X-Big: {'a' * 10240}\r\n"))
            resp = c.response()
            # cheroot's 413 and words (RFC 6585 would say 431).
            assert (resp.status, resp.reason) == (413, "Request Entity Too Large")
            assert (
                resp.body == b"The headers sent with the request exceed the maximum allowed bytes."
            )
            assert resp.header("Connection") == "close"
            assert c.closed()
        with Client(port) as c:
            c.send(b"GET /" + b"a" * 10240 + b" HTTP/1.1\r\nHost: test\r\n\r\n")
            resp = c.response()
            assert (resp.status, resp.reason) == (414, "Request-URI Too Long")
            assert resp.body.startswith(b"The Request-URI sent with the request exceeds")
            assert c.closed()


def test_small_header_limit_is_enforced() -> None:
    # CherryPy's own suite runs with 500 bytes; hyper's read buffer keeps its own floor.
    with served(max_request_header_size=500) as (_, port):
        with Client(port) as c:
            c.send(get(extra=f"X-Small: {'a' * 200}\r\n"))
            assert_ok(c)
        with Client(port) as c:
            c.send(get(extra=f"From: {'x' * 500}\r\n"))
            resp = c.response()
            assert resp.status == 413
            assert c.closed()


def test_declared_body_too_large() -> None:
    with served(max_request_body_size=1000) as (_, port), Client(port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n")
        resp = c.response()
        assert (resp.status, resp.reason) == (413, "Request Entity Too Large")
        assert resp.body == b"The entity sent with the request exceeds the maximum allowed bytes."
        assert resp.header("Connection") == "close"
        assert c.closed()


def test_chunked_body_growing_too_large() -> None:
    chunks = b"".join(b"100\r\n" + b"x" * 256 + b"\r\n" for _ in range(5))  # 1280 bytes
    with served(max_request_body_size=1000) as (_, port), Client(port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
        resp = c.response()
        assert resp.status == 413
        assert resp.header("Connection") == "close"
        assert c.closed()


SECRET = b"GET /secret HTTP/1.1\r\nHost: test\r\n\r\n"


def test_bytes_after_declared_too_large_body_are_not_parsed() -> None:
    # A request at the limit and another as the last bytes of the body.
    body = (b"x" * 1000 + SECRET).ljust(5000 - len(SECRET), b"x") + SECRET
    assert len(body) == 5000
    head = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n"
    with served(max_request_body_size=1000) as (root, port):
        with Client(port) as c:
            c.send(head + body)
            assert c.response().status == 413
            assert c.closed()
        assert root.calls == {}


def test_bytes_after_chunked_too_large_body_are_not_parsed() -> None:
    chunk = b"1f4\r\n" + b"x" * 500 + b"\r\n"
    # 1500 bytes in a well-formed body, then a pipelined request.
    body = chunk * 3 + b"0\r\n\r\n" + SECRET
    head = b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
    with served(max_request_body_size=1000) as (root, port):
        with Client(port) as c:
            c.send(head + body)
            assert c.response().status == 413
            assert c.closed()
        assert root.calls == {}


# -- Host (RFC 9112 §3.2) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ],
    ids=["missing", "repeated"],
)
def test_http11_needs_exactly_one_host(request_bytes: bytes) -> None:
    with served() as (_, port), Client(port) as c:
        c.send(request_bytes)
        resp = c.response()
        assert resp.status == 400
        assert resp.header("Connection") == "close"
        assert b"Host" in resp.body
        assert c.closed()


def test_http10_without_host_is_served() -> None:
    with served() as (_, port), Client(port) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert_ok(c, version="HTTP/1.0")


# -- Transfer-Encoding (RFC 9112 §6) ----------------------------------------------------


@pytest.mark.parametrize(
    "encodings",
    [
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["gzip-chunked", "two-lines"],
)
def test_unsupported_transfer_coding_is_501(encodings: bytes) -> None:
    with served() as (root, port), Client(port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\n" + encodings + b"\r\n0\r\n\r\n" + SECRET)
        resp = c.response()
        assert (resp.status, resp.reason) == (501, "Not Implemented")
        assert resp.header("Connection") == "close"
        assert c.closed()
        assert root.calls == {}


def test_chunked_with_content_length_is_framed_by_chunked_then_closed() -> None:
    # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, and the server MUST
    # close the connection after responding. hyper drops the Content-Length header, so
    # the body is the (empty) chunked one and nothing after it is read as a request.
    with served() as (root, port), Client(port) as c:
        c.send(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: 5\r\n\r\n0\r\n\r\nGET /secret HTTP/1.1\r\nHost: test\r\n\r\n"
        )
        resp = c.response()
        assert resp.status == 200
        assert resp.body == b""
        assert resp.header("Connection") == "close"
        assert c.closed()
        assert "secret" not in root.calls


def test_transfer_encoding_without_chunked_is_400() -> None:
    # RFC 9112 §6.3: a request whose final transfer coding is not chunked has no
    # determinable length; the server MUST respond 400 and close (hyper does so itself).
    with served() as (root, port), Client(port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n")
        resp = c.response()
        assert resp.status == 400
        assert resp.body == b"Bad Request: 'chunked' must be the last transfer coding."
        assert c.closed()
        assert root.calls == {}


# -- malformed requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "status", "body"),
    [
        (b"GARBAGE", 400, b"Malformed Request-Line"),
        (b"GET  / HTTP/1.1", 400, b"Malformed Request-Line: bad protocol"),
        (b"GET / HTTP/9.9", 505, b"Cannot fulfill request"),
        (b"GET / HTTP/1.1 extra", 400, b"Malformed Request-Line"),
        (b"\x00\x01\x02", 400, b"Malformed Request-Line"),
        (b"GET / FTP/1.1", 400, b"Malformed Request-Line: bad protocol"),
        (b"GET / HTTP/11", 400, b"Malformed Request-Line: bad version"),
        (b"GET relative/path HTTP/1.1", 400, b"Invalid path in Request-URI"),
        (b"GET /\x7f HTTP/1.1", 400, b"Malformed Request-URI"),
    ],
    ids=[
        "no-spaces",
        "double-space",
        "bad-version",
        "trailing-token",
        "binary",
        "bad-protocol",
        "version-without-dot",
        "relative-path",
        "control-byte",
    ],
)
def test_malformed_request_line(line: bytes, status: int, body: bytes) -> None:
    # cheroot's status and words (its simple_response: plain text, then close).
    with served() as (root, port):
        with Client(port) as c:
            c.send(line + b"\r\nHost: test\r\n\r\n")
            resp = c.response()
            assert resp.status == status
            assert resp.body.startswith(body)
            assert resp.header("Content-Type") == "text/plain"
            assert c.closed()
        assert root.calls == {}
        with Client(port) as c:
            c.send(get())
            assert_ok(c)


@pytest.mark.parametrize(
    ("line", "body"),
    [
        (b"re, 1.2.3.4#015#012", b"Illegal header line."),
        (b"X-Spaced : before the colon", b"Illegal header line."),
        (b" folded continuation", b"Illegal header line."),
        (b"X-Control: a\x01b", b"Illegal header line."),
        (b"Content-Length: 1x", b"Malformed Content-Length Header."),
    ],
    ids=["no-colon", "space-before-colon", "obs-fold", "control-byte", "bad-content-length"],
)
def test_malformed_header_line(line: bytes, body: bytes) -> None:
    # cheroot's words; whitespace before the colon, folding and control bytes are refused
    # (RFC 9112 §5.1, §5.2) where cheroot takes them.
    with served() as (root, port), Client(port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: test\r\n" + line + b"\r\n\r\n")
        resp = c.response()
        assert (resp.status, resp.body) == (400, body)
        assert c.closed()
        assert root.calls == {}


def test_a_bad_head_after_a_good_request_on_the_connection() -> None:
    with served() as (_, port), Client(port) as c:
        c.send(get())
        assert_ok(c)
        c.send(b"GARBAGE\r\n\r\n")
        resp = c.response()
        assert (resp.status, resp.body) == (400, b"Malformed Request-Line")
        assert c.closed()


def test_a_request_line_is_read_to_its_end_before_it_is_judged() -> None:
    # httparse stops at the first bad byte; cheroot (and we) wait for the line's end.
    with served(socket_timeout=5) as (_, port), Client(port) as c:
        c.send(b"GET /hello HTTP/1.1")
        c.send(b"X")
        assert not c.closed(timeout=0.3)
        c.send(b"\r\n\r\n")
        resp = c.response()
        assert (resp.status, resp.body) == (400, b"Malformed Request-Line")


def test_app_400_with_empty_body_is_not_replaced() -> None:
    # Only hyper's own answer to an unparsable head is replaced, never an application's.
    with served() as (_, port), Client(port) as c:
        c.send(get("/custom_cl?cl=0"))
        resp = c.response()
        assert (resp.status, resp.body) == (200, b"")
        c.send(get())
        assert_ok(c)


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        ("cl=5&chunks=I+have+too+many", 500, b"The requested resource returned more bytes "),
        ("cl=5&chunks=I+too&chunks=+have+too+many", 200, b"I too"),
        ("cl=50&chunks=short", 200, b"short"),
    ],
    ids=["first-chunk-too-long", "later-chunk-cut", "shorter-sent-whole"],
)
def test_declared_content_length_against_the_body(query: str, status: int, body: bytes) -> None:
    # cheroot: a 500 when the first chunk is longer than declared, the body cut when a
    # later one is; a shorter body gets its true length (never a hanging client).
    with served() as (_, port), Client(port) as c:
        c.send(get(f"/custom_cl?{query}"))
        resp = c.response()
        assert resp.status == status
        assert resp.body.startswith(body)
        assert resp.header("Content-Length") == str(len(resp.body))


def test_options_asterisk_reaches_the_root_app() -> None:
    with served() as (_, port), Client(port) as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n")
        resp = c.response()
        assert resp.status == 404
        assert resp.header("Content-Type") == "text/html;charset=utf-8"
        assert b"<title>404 Not Found</title>" in resp.body
        assert resp.header("Connection") is None
        c.send(get())
        assert_ok(c)


# -- errors and overload -----------------------------------------------------------------


def test_handler_exception_is_500_and_connection_survives() -> None:
    with served() as (_, port), Client(port) as c:
        c.send(get("/boom"))
        resp = c.response()
        assert resp.status == 500
        assert resp.header("Connection") is None
        c.send(get())
        assert_ok(c)


def test_busy_workers_give_503_with_retry_after() -> None:
    with served(thread_pool=1, accepted_queue_timeout=0.3) as (root, port):
        with Client(port) as blocked, Client(port) as waiting:
            blocked.send(get("/block"))
            assert root.entered.wait(5)
            waiting.send(get())
            resp = waiting.response()
            assert (resp.status, resp.reason) == (503, "Service Unavailable")
            assert resp.header("Retry-After") == "1"
            root.release.set()
            assert_ok(blocked, b"done")
            # The 503 left the connection usable, and the worker is free again.
            waiting.send(get())
            assert_ok(waiting)
        with Client(port) as c:
            c.send(get())
            assert_ok(c)


# -- graceful stop -----------------------------------------------------------------------


def test_graceful_stop_finishes_in_flight_request() -> None:
    root = Root()
    with serve(root) as live:
        port = live.port
        threads = list(live.server.threads)
        with Client(port) as c:
            c.send(get("/block"))
            assert root.entered.wait(5)
            stopper = threading.Thread(target=live.server.stop, name="stopper")
            stopper.start()
            try:
                assert poll(lambda: refused(port))
                assert stopper.is_alive()  # still waiting for the request in flight
                root.release.set()
                resp = c.response()
                assert (resp.status, resp.body) == (200, b"done")
                assert resp.header("Connection") == "close"
                assert c.closed()
            finally:
                root.release.set()
                stopper.join(10)
            assert not stopper.is_alive()
        assert refused(port)
        assert not any(t.is_alive() for t in threads)


def test_stop_gives_up_after_shutdown_timeout() -> None:
    root = Root()
    with serve(root, thread_pool=1, shutdown_timeout=0.5) as live:
        threads = list(live.server.threads)
        with Client(live.port) as c:
            c.send(get("/block"))
            assert root.entered.wait(5)
            start = time.monotonic()
            try:
                live.server.stop()
                elapsed = time.monotonic() - start
            finally:
                root.release.set()
            assert 0.4 <= elapsed < 4.0
            # The connection was cut without a response.
            assert c.closed()
            assert c.buf == b""
    for t in threads:
        t.join(5)
        assert not t.is_alive()
