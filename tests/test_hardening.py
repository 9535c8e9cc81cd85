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

    @cherrypy.expose
    def info(self) -> str:
        self._count("info")
        req = cherrypy.request
        return f"{req.base} {req.headers.get('Host')}"

    @cherrypy.expose
    def cookies(self) -> str:
        jar = cherrypy.request.cookie
        return " ".join(f"{k}={jar[k].value}" for k in sorted(jar))

    @cherrypy.expose
    def accept(self) -> str:
        return cherrypy.request.headers.get("Accept", "")

    @cherrypy.expose
    def redirect(self) -> None:
        raise cherrypy.HTTPRedirect("/a\r\nSet-Cookie: evil=1")

    @cherrypy.expose
    def location(self) -> str:
        cherrypy.response.headers["Location"] = "/a\r\nSet-Cookie: evil=1"
        return "moved"


def environ_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A WSGI app that shows the environ keys the header tests read."""
    keys = ("HTTP_HOST", "SERVER_NAME", "HTTP_COOKIE", "HTTP_ACCEPT")
    body = "\n".join(f"{k}={environ.get(k)}" for k in keys).encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def environ_of(body: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in body.decode("latin-1").splitlines())


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
                [
                    (":method", "GET"),
                    (":path", "/stream"),
                    (":scheme", "http"),
                    (":authority", "test"),
                ],
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


def test_sigterm_to_the_master_bounds_a_blocked_worker(procs: list[Any]) -> None:
    import signal
    import time

    from test_cli import Proc

    proc = Proc(
        "run",
        "tests.apps.hardening_app:Root",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--threads",
        "1",
        "--graceful-timeout",
        "1",
    )
    procs.append(proc)
    port = proc.wait_port()
    with Client(port, timeout=70) as c:
        c.send(get("/slow?seconds=60"))
        assert poll(lambda: "slow handler started" in proc.output(), timeout=10)
        started = time.monotonic()
        proc.popen.send_signal(signal.SIGTERM)
        assert proc.popen.wait(timeout=15) == 0
        elapsed = time.monotonic() - started
        assert elapsed < 1 + 1 + 3, f"{elapsed:.1f} s\n{proc.output()}"
        assert poll(lambda: "GET /slow?seconds=60 from 127.0.0.1:" in proc.output())
        assert c.closed()


def test_engine_exit_from_a_handler_answers_then_exits(tmp_path: Any, procs: list[Any]) -> None:
    proc, port = start_app(tmp_path, procs)
    with Client(port) as c:
        resp = c.get("/exit")
        assert (resp.status, resp.body) == (200, b"bye")
    assert proc.popen.wait(timeout=10) == 0, proc.output()
    assert poll(lambda: "Bus EXITED" in proc.output()), proc.output()


# -- 3. request target and Host ----------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [b"a b", b"a/b", b"user@a", b"a\x01b", b"a:1:2", b"a:http", b"[::1"],
    ids=["space", "slash", "userinfo", "control", "two-ports", "port-not-digits", "bracket"],
)
def test_invalid_host_is_400(host: bytes) -> None:
    root = Root()
    with serve(root) as live, Client(live.port) as c:
        c.send(b"GET /info HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        resp = c.response()
        assert resp.status == 400
        # A control byte is refused by the parser (cheroot's "Illegal header line.",
        # which announces no close); the others by the Host check.
        assert resp.header("Connection") == ("close" if host != b"a\x01b" else None)
        assert c.closed()
    assert root.calls == {}


def test_absolute_form_target_names_the_host() -> None:
    root = Root()
    with serve(root, apps={"/wsgi": environ_app}) as live, Client(live.port) as c:
        c.send(b"GET http://target.test:8080/info HTTP/1.1\r\nHost: header.test\r\n\r\n")
        resp = c.response()
        assert (resp.status, resp.body) == (200, b"http://target.test:8080 target.test:8080")
        c.send(b"GET http://target.test/wsgi/ HTTP/1.1\r\nHost: header.test:81\r\n\r\n")
        env = environ_of(c.response().body)
        assert (env["HTTP_HOST"], env["SERVER_NAME"]) == ("target.test", "target.test")


def test_absolute_form_with_userinfo_and_authority_form_are_400() -> None:
    root = Root()
    with serve(root) as live:
        for target in (b"http://user@target.test/info", b"target.test:80"):
            with Client(live.port) as c:
                c.send(b"GET " + target + b" HTTP/1.1\r\nHost: test\r\n\r\n")
                assert c.response().status == 400
                assert c.closed()
    assert root.calls == {}


def test_connect_is_405_and_never_routed() -> None:
    root = Root()
    with serve(root) as live, Client(live.port) as c:
        c.send(b"CONNECT info:443 HTTP/1.1\r\nHost: info:443\r\n\r\n")
        resp = c.response()
        assert resp.status == 405
        # RFC 9110 §15.5.6: a 405 says which methods are allowed.
        allow = [m.strip() for m in (resp.header("Allow") or "").split(",")]
        assert {"GET", "HEAD", "POST"} <= set(allow)
        assert "CONNECT" not in allow
        assert c.closed()
    assert root.calls == {}


# -- 4. repeated header fields -----------------------------------------------------------


def test_repeated_cookie_lines_are_one_cookie_string() -> None:
    with serve(Root(), apps={"/wsgi": environ_app}) as live, Client(live.port) as c:
        lines = b"Cookie: a=1\r\nAccept: text/html\r\nCookie: b=2\r\nAccept: text/plain\r\n"
        c.send(b"GET /cookies HTTP/1.1\r\nHost: test\r\n" + lines + b"\r\n")
        assert c.response().body == b"a=1 b=2"
        c.send(b"GET /accept HTTP/1.1\r\nHost: test\r\n" + lines + b"\r\n")
        assert c.response().body == b"text/html, text/plain"
        c.send(b"GET /wsgi/ HTTP/1.1\r\nHost: test\r\n" + lines + b"\r\n")
        env = environ_of(c.response().body)
        assert env["HTTP_COOKIE"] == "a=1; b=2"
        assert env["HTTP_ACCEPT"] == "text/html, text/plain"


# -- 5. Transfer-Encoding edge cases -----------------------------------------------------


@pytest.mark.parametrize(
    "encodings",
    [
        b"Transfer-Encoding: chunked, chunked\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["one-line", "two-lines"],
)
def test_chunked_twice_is_400(encodings: bytes) -> None:
    root = Root()
    with serve(root) as live, Client(live.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\n" + encodings + b"\r\n0\r\n\r\n")
        resp = c.response()
        assert resp.status == 400
        assert resp.header("Connection") == "close"
        assert c.closed()


def test_empty_transfer_coding_elements_are_ignored() -> None:
    with serve(Root()) as live, Client(live.port) as c:
        c.send(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: ,chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n"
        )
        resp = c.response()
        assert (resp.status, resp.body) == (200, b"hello")
        c.send(get("/"))
        assert c.response().body == b"hello"


def test_trailers_over_the_header_limit_close_the_connection() -> None:
    root = Root()
    with serve(root, max_request_header_size=2048) as live, Client(live.port) as c:
        trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"v" * 100) for i in range(40))
        c.send(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n" + trailers + b"\r\n" + get("/secret")
        )
        resp = c.response()
        assert resp.status in (400, 431)
        assert resp.header("Connection") == "close"
        assert c.closed()
    assert root.calls == {}


# -- 8. redirect targets -----------------------------------------------------------------


def test_crlf_in_a_redirect_target_is_percent_encoded() -> None:
    with serve(Root()) as live, Client(live.port) as c:
        resp = c.get("/redirect")
        assert resp.status == 303
        assert resp.header("Location") == "http://test/a%0D%0ASet-Cookie: evil=1"
        assert resp.header("Set-Cookie") is None


def test_crlf_in_a_location_header_is_a_500() -> None:
    with serve(Root()) as live, Client(live.port) as c:
        resp = c.get("/location")
        assert resp.status == 500
        assert resp.header("Set-Cookie") is None
        assert resp.header("Location") is None


# -- 6. files that change while served ---------------------------------------------------


def static_config(site: Any) -> dict[str, Any]:
    return {
        "/static": {
            "tools.staticdir.on": True,
            "tools.staticdir.dir": str(site),
            "tools.staticdir.cache_valid": 0.0,
        }
    }


BIG = 32 << 20


def test_a_file_that_shrinks_in_flight_ends_with_a_close(tmp_path: Any) -> None:
    (tmp_path / "big.bin").write_bytes(b"b" * BIG)
    with serve(Root(), "", static_config(tmp_path)) as live:
        sock = socket.socket()
        small_receive_buffer(sock)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", live.port))
        with sock:
            sock.sendall(get("/static/big.bin"))
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                assert chunk
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            assert f"Content-Length: {BIG}".encode() in head
            with open(tmp_path / "big.bin", "r+b") as f:
                f.truncate(1 << 20)
            received = len(body)
            try:
                while chunk := sock.recv(1 << 20):
                    received += len(chunk)
            except ConnectionResetError:
                pass
            # The promised length was not delivered, and the connection is gone.
            assert received < BIG


@pytest.mark.parametrize("how", ["truncated", "replaced"])
def test_the_next_get_serves_the_current_file(tmp_path: Any, how: str) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"1" * (3 << 20))
    with serve(Root(), "", static_config(tmp_path)) as live, Client(live.port) as c:
        resp = c.get("/static/f.bin")
        assert (resp.status, len(resp.body)) == (200, 3 << 20)
        if how == "truncated":
            with open(path, "r+b") as f:
                f.truncate(1000)
        else:
            (tmp_path / "new.bin").write_bytes(b"2" * 5000)
            (tmp_path / "new.bin").rename(path)
        resp = c.get("/static/f.bin")
        expected = b"1" * 1000 if how == "truncated" else b"2" * 5000
        assert resp.status == 200
        assert resp.header("Content-Length") == str(len(expected))
        assert resp.body == expected
        # The connection is still in step.
        assert c.get("/").body == b"hello"


@pytest.mark.parametrize("size", [1000, 3 << 20], ids=["in-memory", "from-descriptor"])
@pytest.mark.parametrize("how", ["truncated", "rewritten", "renamed-over", "deleted"])
def test_a_change_within_cache_valid_is_served_at_once(tmp_path: Any, how: str, size: int) -> None:
    """Within cache_valid the path is not looked up again, but the cached file's
    descriptor is checked: the next GET serves what is on disk now, with its length."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"1" * size)
    config = static_config(tmp_path)
    config["/static"]["tools.staticdir.cache_valid"] = 3600.0
    with serve(Root(), "", config) as live, Client(live.port) as c:
        resp = c.get("/static/f.bin")
        assert (resp.status, len(resp.body)) == (200, size)
        expected: bytes | None
        if how == "truncated":
            with open(path, "r+b") as f:
                f.truncate(size // 2)
            expected = b"1" * (size // 2)
        elif how == "rewritten":
            expected = b"2" * (size + 7)
            path.write_bytes(expected)
        elif how == "renamed-over":
            expected = b"3" * (size - 5)
            (tmp_path / "new.bin").write_bytes(expected)
            (tmp_path / "new.bin").rename(path)
        else:
            path.unlink()
            expected = None
        resp = c.get("/static/f.bin")
        if expected is None:
            assert resp.status == 404
        else:
            assert resp.status == 200
            assert resp.header("Content-Length") == str(len(expected))
            assert resp.body == expected
        # The connection is still in step.
        assert c.get("/").body == b"hello"


# -- 7. memory per body ------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def read_discarding(port: int, path: str) -> int:
    """GETs ``path`` and reads the body without keeping it; returns its length."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(get(path))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        got = len(rest)
        buf = bytearray(1 << 20)
        while got < length:
            n = sock.recv_into(buf)
            assert n
            got += n
        return got


@pytest.mark.parametrize(
    "command,target",
    [("run", "tests.apps.hardening_app:Big"), ("wsgi", "tests.apps.hardening_app:wsgi_big")],
)
def test_a_large_bytes_body_is_not_copied(procs: list[Any], command: str, target: str) -> None:
    from test_cli import Proc

    big = 64 << 20
    proc = Proc(command, target, "--bind", "127.0.0.1:0", "--threads", "1")
    procs.append(proc)
    port = proc.wait_port()
    pid = proc.popen.pid
    # Warm up (imports, first request), then reset the peak (Linux: clear_refs 5).
    read_discarding(port, "/nothing")
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    before = status_kib(pid, "VmRSS")
    assert read_discarding(port, "/") == big
    peak = status_kib(pid, "VmHWM")
    grown = (peak - before) * 1024
    assert grown <= 1.5 * big, f"peak RSS grew by {grown / big:.2f}x the body"


def test_a_streamed_body_stays_flat(procs: list[Any]) -> None:
    from test_cli import Proc

    proc = Proc("run", "tests.apps.hardening_app:Big", "--bind", "127.0.0.1:0", "--threads", "1")
    procs.append(proc)
    port = proc.wait_port()
    pid = proc.popen.pid
    read_discarding(port, "/nothing")
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    before = status_kib(pid, "VmRSS")
    assert read_discarding(port, "/stream") == 256 << 20
    grown = (status_kib(pid, "VmHWM") - before) * 1024
    # A few chunks in flight (the channel holds 8), never the body.
    assert grown <= 32 << 20, f"peak RSS grew by {grown >> 20} MiB for a 256 MiB stream"


def test_an_http1_request_whose_client_left_is_still_run() -> None:
    # As cheroot: the request was received whole, so the application runs it (its
    # on_end_request hooks included) even when the client closed at once. Only HTTP/2
    # requests reset before a worker takes them are dropped (test_http2_hostile.py).
    from rawhttp import poll

    seen: list[str] = []

    class Root:
        @cherrypy.expose
        def record(self, id: str) -> str:
            cherrypy.request.hooks.attach("on_end_request", lambda: seen.append(id))
            return "ok"

    with serve(Root(), "", None) as live:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as s:
            s.sendall(b"GET /record?id=9 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert poll(lambda: seen == ["9"])
