"""Hostile clients (issue 17): slow readers, bounded shutdown, request targets and Host,
repeated header fields, Transfer-Encoding edges, redirect targets, files that change
while served. Raw sockets throughout; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from rawhttp import Client, get, poll

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import serve

#: Chunks of the endless stream (bounded: at most 1 GiB, never reached).
CHUNK = b"x" * 65536
MAX_CHUNKS = 16384


class Root:
    def __init__(self) -> None:
        self.closed = threading.Event()
        self.calls: dict[str, int] = {}
        self.seen: dict[str, Any] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    def secret(self) -> str:
        self._count("secret")
        return "secret"

    @cherrypy.expose
    def echo(self) -> bytes:
        return cherrypy.request.body.read()

    @cherrypy.expose
    def stream(self) -> Iterator[bytes]:
        def chunks() -> Iterator[bytes]:
            try:
                for _ in range(MAX_CHUNKS):
                    yield CHUNK
            finally:
                self.closed.set()

        return chunks()

    stream._cp_config = {"response.stream": True}  # type: ignore[attr-defined]


@contextlib.contextmanager
def debug_log() -> Iterator[None]:
    logger = logging.getLogger("cherrypy.error")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.setLevel(level)


def small_receive_buffer(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)


def drained_until_closed(sock: socket.socket, limit: int = 1 << 30) -> bool:
    """Reads what is left; True when the server closed (EOF or reset) before ``limit``."""
    total = 0
    try:
        while total < limit:
            data = sock.recv(1 << 20)
            if not data:
                return True
            total += len(data)
    except (ConnectionResetError, ssl.SSLError):
        return True
    return False


# -- 1. slow readers ---------------------------------------------------------------------


def test_slow_reader_is_cut_and_its_worker_freed(capfd: pytest.CaptureFixture[str]) -> None:
    root = Root()
    with debug_log(), serve(root, thread_pool=1, socket_timeout=0.5) as live:
        sock = socket.socket()
        small_receive_buffer(sock)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", live.port))
        with sock:
            sock.sendall(get("/stream"))
            # The client reads nothing: the server's writes stall, and after
            # socket_timeout the connection goes and the generator is closed.
            assert root.closed.wait(15), "close() was not called on the stalled stream"
            assert drained_until_closed(sock)
        # The only worker is free again.
        with Client(live.port) as c:
            resp = c.get("/")
            assert (resp.status, resp.body) == (200, b"hello")
    assert "read nothing of its response" in capfd.readouterr().err


def test_slow_reader_over_tls_is_cut(tls_files: Any) -> None:
    root = Root()
    ctx = tls_files.client_context()
    settings = tls_files.settings()
    with serve(root, thread_pool=1, socket_timeout=0.5, client_context=ctx, **settings) as live:
        raw = socket.socket()
        small_receive_buffer(raw)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", live.port))
        ctx.set_alpn_protocols(["http/1.1"])
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(get("/stream"))
            assert root.closed.wait(15), "close() was not called on the stalled stream"
            assert drained_until_closed(sock)
        status, _, body = live.get("/")
        assert (status, body) == (200, b"hello")


def test_slow_reader_over_http2_is_cut() -> None:
    root = Root()
    with serve(root, thread_pool=1, socket_timeout=0.5, http2=True) as live:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
            sock.sendall(conn.data_to_send())
            conn.send_headers(
                1,
                [(":method", "GET"), (":path", "/stream"), (":scheme", "http"),
                 (":authority", "test")],
                end_stream=True,
            )
            sock.sendall(conn.data_to_send())
            # The client reads (so TCP moves) but never opens its flow-control window:
            # the stream stalls after 64 KiB.
            got = 0
            closed = False
            for _ in range(10000):
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    closed = True
                    break
                if not data:
                    closed = True
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.DataReceived):
                        got += len(event.data)
                # Acknowledge SETTINGS and PINGs, but never the data.
                sock.sendall(conn.data_to_send())
            assert closed
            assert got <= 65535
            assert root.closed.wait(10)
        status, _, body = live.get("/")
        assert (status, body) == (200, b"hello")


# -- 2. bounded shutdown -----------------------------------------------------------------


def start_app(tmp_path: Any, procs: list[Any], threads: int = 2) -> tuple[Any, int]:
    from test_cli import Proc

    conf = tmp_path / "site.conf"
    conf.write_text("[global]\nserver.shutdown_timeout = 1\n")
    proc = Proc(
        "run",
        "tests.apps.hardening_app:Root",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        str(threads),
        "--config",
        str(conf),
    )
    procs.append(proc)
    return proc, proc.wait_port()


def test_sigterm_with_every_worker_blocked_exits_in_time(tmp_path: Any, procs: list[Any]) -> None:
    import signal
    import time

    proc, port = start_app(tmp_path, procs)
    clients = [Client(port, timeout=70) for _ in range(2)]
    try:
        for c in clients:
            c.send(get("/slow?seconds=60"))
        assert poll(lambda: proc.output().count("slow handler started") == 2, timeout=10)
        started = time.monotonic()
        proc.popen.send_signal(signal.SIGTERM)
        # shutdown_timeout (1 s) + 1 s, plus room for the interpreter's own exit.
        assert proc.popen.wait(timeout=10) == 0
        elapsed = time.monotonic() - started
        assert elapsed < 1 + 1 + 2, f"{elapsed:.1f} s\n{proc.output()}"
        # The cut requests are named in the log, and their connections closed.
        assert poll(lambda: "cut 2 request(s) still in a handler" in proc.output())
        assert proc.output().count("GET /slow?seconds=60 from 127.0.0.1:") == 2
        for c in clients:
            assert c.closed()
    finally:
        for c in clients:
            c.close()


def test_engine_exit_from_a_handler_answers_then_exits(tmp_path: Any, procs: list[Any]) -> None:
    proc, port = start_app(tmp_path, procs)
    with Client(port) as c:
        resp = c.get("/exit")
        assert (resp.status, resp.body) == (200, b"bye")
    assert proc.popen.wait(timeout=10) == 0, proc.output()
    assert "Bus EXITED" in proc.output()
