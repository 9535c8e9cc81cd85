"""Idle HTTP/1 keep-alive connections are parked: once a connection has answered its
request and stayed silent briefly, the server drops its HTTP state and buffers and only
waits for the socket (``Server.parked_connections`` counts them). These tests check that
a parked connection behaves exactly like one that was never parked: the next request,
pipelined requests, a request head split across packets, the idle and head timeouts,
the graceful stop, and the same over TLS. Raw sockets on 127.0.0.1; waits are bounded
polls on the server's counter.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import TLSFiles
from rawhttp import Client, get, poll

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import LiveServer, serve


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    def path(self, *atoms: str) -> str:
        return "/".join(atoms)

    @cherrypy.expose
    def echo(self) -> bytes:
        return cherrypy.request.body.read()


@contextmanager
def served(**settings: Any) -> Iterator[LiveServer]:
    with serve(Root(), **settings) as live:
        yield live


def parked(live: LiveServer, count: int = 1) -> bool:
    """Whether ``count`` connections get parked (a bounded poll)."""
    core = live.server.core
    assert core is not None
    return poll(lambda: core.parked_connections == count)


def ok(client: Client, body: bytes = b"hello") -> None:
    resp = client.response()
    assert (resp.status, resp.body) == (200, body)


def test_a_parked_connection_serves_its_next_requests() -> None:
    with served() as live, Client(live.port) as c:
        c.send(get())
        ok(c)
        assert parked(live)
        c.send(get("/path/a"))
        ok(c, b"a")
        assert parked(live)
        # Pipelined into a parked connection: answered in order.
        c.send(get("/path/b") + get("/path/c") + get("/path/d"))
        for name in (b"b", b"c", b"d"):
            ok(c, name)
        assert parked(live)
        c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
        ok(c)


def test_a_silent_new_connection_is_parked_then_served() -> None:
    with served() as live, Client(live.port) as c:
        assert parked(live)
        c.send(get("/path/late"))
        ok(c, b"late")


def test_a_request_head_split_across_packets_after_parking() -> None:
    with served() as live, Client(live.port) as c:
        c.send(get())
        ok(c)
        assert parked(live)
        c.send(b"GET /path/split HTTP/1.1\r\n")
        # The head is incomplete: hyper holds the bytes, the connection is not parked.
        assert poll(
            lambda: live.server.core is not None and live.server.core.parked_connections == 0
        )
        c.send(b"Host: test\r\n\r\n")
        ok(c, b"split")


def test_a_parked_connection_is_closed_after_socket_timeout() -> None:
    with served(socket_timeout=0.5) as live, Client(live.port) as c:
        c.send(get())
        ok(c)
        start = time.monotonic()
        assert parked(live)
        assert c.closed(timeout=5.0)
        # Counted from the response, not from the parking.
        assert 0.3 <= time.monotonic() - start < 5.0
        assert parked(live, 0)


def test_a_slow_head_after_parking_is_cut() -> None:
    with served(socket_timeout=0.5) as live, Client(live.port) as c:
        c.send(get())
        ok(c)
        assert parked(live)
        c.send(b"GET / HTTP/1.1\r\nHost: test\r\n")
        start = time.monotonic()
        assert c.closed(timeout=5.0)
        assert c.buf == b""
        assert 0.3 <= time.monotonic() - start < 5.0


def test_a_head_started_late_in_the_idle_time_keeps_the_idle_deadline() -> None:
    # As before parking existed: the next head must be complete socket_timeout after the
    # last response, however late its first byte comes (not another socket_timeout).
    with served(socket_timeout=2.0) as live, Client(live.port) as c:
        c.send(get())
        ok(c)
        answered = time.monotonic()
        assert parked(live)
        # Time must pass here: the head starts three quarters into the idle time.
        time.sleep(1.5)
        c.send(b"GET / HTTP/1.1\r\n")
        assert c.closed(timeout=5.0)
        assert c.buf == b""
        assert time.monotonic() - answered < 3.2


def test_parked_connections_do_not_hold_the_graceful_stop() -> None:
    with serve(Root(), shutdown_timeout=5.0) as live:
        clients = [Client(live.port) for _ in range(3)]
        try:
            for c in clients:
                c.send(get())
                ok(c)
            assert parked(live, 3)
            start = time.monotonic()
            assert live.server.core is not None
            assert live.server.core.stop() is True
            assert time.monotonic() - start < 5.0
            for c in clients:
                assert c.closed()
        finally:
            for c in clients:
                c.close()


def test_a_parked_tls_connection_serves_its_next_request(tls_files: TLSFiles) -> None:
    ctx = tls_files.client_context()
    with serve(Root(), client_context=ctx, **tls_files.settings()) as live:
        c = Client(live.port)
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        with c:
            c.send(get())
            ok(c)
            assert parked(live)
            c.send(get("/path/again"))
            ok(c, b"again")
            assert parked(live)
            c.send(get("/path/x") + get("/path/y"))
            ok(c, b"x")
            ok(c, b"y")


def test_httpserver_timeout_set_while_serving_applies() -> None:
    # cheroot's idiom (CherryPy's test_tools testEndRequestOnDrop):
    # ``cherrypy.server.httpserver.timeout = x`` on a running server.
    with served(socket_timeout=30) as live:
        handle = live.server.httpserver
        assert handle is not None and handle.timeout == 30
        handle.timeout = 0.5
        assert handle.timeout == 0.5
        with Client(live.port) as c:
            c.send(get())
            ok(c)
            # Idle past the new timeout: closed long before the configured 30 s.
            assert c.closed(timeout=10.0)
        with pytest.raises(ValueError, match=r"server\.socket_timeout"):
            handle.timeout = -1
        with pytest.raises(TypeError):
            handle.timeout = "soon"
        assert handle.timeout == 0.5
