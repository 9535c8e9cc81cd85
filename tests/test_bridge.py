"""The Rust/Python bridge: what a handler returns and how it reaches the socket
(whole bodies, streamed generators and their ``close()``), response headers checked
before they are sent, request headers as the handler sees them, and the worker threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from rawhttp import Client, Truncated

import cherrypy_rs as cherrypy
from cherrypy_rs._server import Server
from cherrypy_rs.testing import serve

# -- the application ---------------------------------------------------------------------

STREAM = {"response.stream": True}
BIG_CHUNK = b"x" * 65536


class Root:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: How many times each generator's ``finally`` ran.
        self.finished: dict[str, int] = {}
        self.finished_event: dict[str, threading.Event] = {
            name: threading.Event() for name in ("words", "forever", "fails", "collected")
        }
        self.barrier = threading.Barrier(2, timeout=5)
        self.first_read = threading.Event()

    def _finish(self, name: str) -> None:
        with self.lock:
            self.finished[name] = self.finished.get(name, 0) + 1
        self.finished_event[name].set()

    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    # Streamed and collected generators.
    @cherrypy.expose
    def words(self) -> Iterator[bytes]:
        def gen() -> Iterator[bytes]:
            try:
                yield b"one"
                yield b"two"
                yield b"three"
            finally:
                self._finish("words")

        return gen()

    words._cp_config = STREAM  # type: ignore[attr-defined]

    @cherrypy.expose
    def forever(self) -> Iterator[bytes]:
        def gen() -> Iterator[bytes]:
            try:
                while True:
                    yield BIG_CHUNK
            finally:
                self._finish("forever")

        return gen()

    forever._cp_config = STREAM  # type: ignore[attr-defined]

    @cherrypy.expose
    def fails(self) -> Iterator[bytes]:
        def gen() -> Iterator[bytes]:
            try:
                yield b"first"
                # Fail only once the client has the first chunk: "mid-stream" for sure.
                self.first_read.wait(5)
                raise RuntimeError("the generator failed mid-stream")
            finally:
                self._finish("fails")

        return gen()

    fails._cp_config = STREAM  # type: ignore[attr-defined]

    @cherrypy.expose
    def fails_fast(self) -> Iterator[bytes]:
        def gen() -> Iterator[bytes]:
            yield b"first"
            yield b"second"
            raise RuntimeError("the generator failed right after two chunks")

        return gen()

    fails_fast._cp_config = STREAM  # type: ignore[attr-defined]

    @cherrypy.expose
    def collected(self) -> Iterator[bytes]:
        def gen() -> Iterator[bytes]:
            try:
                yield b"col"
                yield b"lec"
                yield b"ted"
            finally:
                self._finish("collected")

        return gen()

    # Plain return values.
    @cherrypy.expose
    def text(self) -> str:
        return "h\u00e9llo \u20ac"

    @cherrypy.expose
    def raw(self) -> bytes:
        return b"\x00\xffbytes"

    @cherrypy.expose
    def nothing(self) -> None:
        return None

    @cherrypy.expose
    def text_list(self) -> list[str]:
        return ["a", "\u00e9", "c"]

    @cherrypy.expose
    def bytes_list(self) -> list[bytes]:
        return [b"a", b"b", b"c"]

    # Response head.
    @cherrypy.expose
    def header(self, value: str) -> str:
        cherrypy.response.headers["X-Value"] = value
        return "sent"

    @cherrypy.expose
    def custom_status(self) -> str:
        cherrypy.response.status = "299 Custom Reason"
        return "custom"

    # Request headers.
    @cherrypy.expose
    def request_headers(self) -> str:
        headers = cherrypy.request.headers
        return "|".join([headers["X-MULTI"], headers.get("x-multi"), str("X-Multi" in headers)])

    # Threads.
    @cherrypy.expose
    def meet(self) -> str:
        self.barrier.wait()
        return "met"

    @cherrypy.expose
    def thread_name(self) -> str:
        return threading.current_thread().name


# -- streamed generators ----------------------------------------------------------------


def test_stream_arrives_chunked_in_order_and_closes_once() -> None:
    root = Root()
    with serve(root) as live, Client(live.port) as c:
        resp = c.get("/words")
        assert resp.status == 200
        assert resp.header("Transfer-Encoding") == "chunked"
        assert resp.header("Content-Length") is None
        assert resp.chunks == [b"one", b"two", b"three"]
        assert root.finished_event["words"].wait(5)
        # The connection stays usable after a streamed response.
        assert c.get("/").body == b"hello"
    # Workers are joined: nothing can still call close().
    assert root.finished == {"words": 1}


def test_stream_closed_when_client_disconnects() -> None:
    root = Root()
    with serve(root) as live:
        with Client(live.port) as c:
            c.send(b"GET /forever HTTP/1.1\r\nHost: test\r\n\r\n")
            resp = c.head()
            assert resp.header("Transfer-Encoding") == "chunked"
            for _ in range(3):
                assert c.chunk() == BIG_CHUNK
        # The client is gone: the generator is closed within a bounded time.
        assert root.finished_event["forever"].wait(5)
        with Client(live.port) as c:
            assert c.get("/").body == b"hello"
    assert root.finished == {"forever": 1}


def test_stream_failing_midway_aborts_the_connection() -> None:
    root = Root()
    with serve(root) as live:
        with Client(live.port) as c:
            c.send(b"GET /fails HTTP/1.1\r\nHost: test\r\n\r\n")
            resp = c.head()
            assert resp.status == 200
            assert resp.header("Transfer-Encoding") == "chunked"
            assert c.chunk() == b"first"
            root.first_read.set()
            # No terminating chunk: the connection is aborted, the body is incomplete.
            with pytest.raises(Truncated) as info:
                c.chunk()
            assert info.value.partial == b""
        assert root.finished_event["fails"].wait(5)
        with Client(live.port) as c:
            assert c.get("/").body == b"hello"
    assert root.finished == {"fails": 1}


def test_chunks_yielded_before_a_failure_are_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: hyper drops unflushed output when a body fails, so the failure is
    # reported one poll late (after the flush). A silent error report makes the worker
    # fast enough to hit the race within 100 tries. cheroot sends each chunk as produced.
    monkeypatch.setattr(Server, "_report", lambda self, message, exc: None)
    with serve(Root()) as live:
        for _ in range(100):
            with Client(live.port) as c:
                with pytest.raises(Truncated) as info:
                    c.get("/fails_fast")
                partial = info.value.response
                assert partial is not None, "no status line"
                assert partial.status == 200
                assert partial.chunks == [b"first", b"second"]


def test_generator_without_stream_is_collected() -> None:
    root = Root()
    with serve(root) as live, Client(live.port) as c:
        resp = c.get("/collected")
        assert resp.status == 200
        assert resp.header("Transfer-Encoding") is None
        assert resp.header("Content-Length") == "9"
        assert resp.body == b"collected"
    assert root.finished == {"collected": 1}


# -- return values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/text", "h\u00e9llo \u20ac".encode()),
        ("/raw", b"\x00\xffbytes"),
        ("/nothing", b""),
        ("/text_list", "a\u00e9c".encode()),
        ("/bytes_list", b"abc"),
    ],
    ids=["str", "bytes", "None", "list-of-str", "list-of-bytes"],
)
def test_return_values(serve_app: Callable[..., Any], path: str, body: bytes) -> None:
    live = serve_app(Root())
    with Client(live.port) as c:
        resp = c.get(path)
        assert resp.status == 200
        assert resp.header("Transfer-Encoding") is None
        assert resp.header("Content-Length") == str(len(body))
        assert resp.body == body


# -- the response head -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a%0D%0AX-Injected:%201", "a%0AX-Injected:%201", "a%0DX-Injected:%201", "a%00b"],
    ids=["crlf", "lf", "cr", "nul"],
)
def test_control_characters_in_response_header_are_500(
    serve_app: Callable[..., Any], value: str
) -> None:
    live = serve_app(Root())
    with Client(live.port) as c:
        resp = c.get(f"/header?value={value}")
        assert (resp.status, resp.body) == (500, b"Internal Server Error\n")
        assert resp.header("X-Value") is None
        assert resp.header("X-Injected") is None
        assert b"X-Injected" not in resp.body
        # The same connection, and the server, keep serving.
        assert c.get("/").body == b"hello"


def test_non_latin1_response_header_is_rfc2047_encoded(serve_app: Callable[..., Any]) -> None:
    # As CherryPy's HeaderMap.encode: text outside ISO-8859-1 goes as one encoded-word.
    live = serve_app(Root())
    with Client(live.port) as c:
        resp = c.get("/header?value=%E2%82%AC")  # U+20AC, not in ISO-8859-1
        assert resp.status == 200
        assert resp.header("X-Value") == "=?utf-8?b?4oKs?="
        assert c.get("/").body == b"hello"


def test_latin1_response_header_is_sent_as_latin1(serve_app: Callable[..., Any]) -> None:
    live = serve_app(Root())
    with Client(live.port) as c:
        resp = c.get("/header?value=caf%C3%A9")
        assert resp.status == 200
        assert resp.header("X-Value") == "caf\u00e9"  # one 0xE9 byte, decoded as latin-1


def test_custom_reason_phrase(serve_app: Callable[..., Any]) -> None:
    live = serve_app(Root())
    with Client(live.port) as c:
        # The reason is read from the raw status line: "HTTP/1.1 299 Custom Reason".
        resp = c.get("/custom_status")
        assert (resp.status, resp.reason, resp.body) == (299, "Custom Reason", b"custom")


# -- request headers ---------------------------------------------------------------------


def test_repeated_request_headers_are_joined(serve_app: Callable[..., Any]) -> None:
    live = serve_app(Root())
    with Client(live.port) as c:
        resp = c.get("/request_headers", extra="X-Multi: a\r\nx-multi: b\r\nX-MULTI: c\r\n")
        assert resp.body == b"a, b, c|a, b, c|True"


# -- worker threads ----------------------------------------------------------------------


def test_two_workers_run_concurrently() -> None:
    root = Root()
    with serve(root, thread_pool=2) as live:
        with Client(live.port) as first, Client(live.port) as second:
            for c in (first, second):
                c.send(b"GET /meet HTTP/1.1\r\nHost: test\r\n\r\n")
            # Each handler waits at the barrier for the other: both pass only if two
            # workers run at once (otherwise the barrier times out and both get a 500).
            assert [(r.status, r.body) for r in (first.response(), second.response())] == [
                (200, b"met"),
                (200, b"met"),
            ]
        assert not root.barrier.broken


def test_worker_threads_are_named_and_joined_at_stop() -> None:
    with serve(Root(), thread_pool=3) as live:
        threads = list(live.server.threads)
        assert len(threads) == 3
        names = [t.name for t in threads]
        assert all(re.fullmatch(r"CP Server Thread-\d+", name) for name in names), names
        assert len(set(names)) == 3
        assert all(t.is_alive() for t in threads)
        with Client(live.port) as c:
            assert c.get("/thread_name").body.decode() in names
    assert not any(t.is_alive() for t in threads)
    assert not set(threading.enumerate()) & set(threads)
