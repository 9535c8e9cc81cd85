"""Hostile HTTP/2 clients (issue 20): stream limits, rapid reset, SETTINGS and PING floods,
CONTINUATION floods, and the limits hyper and h2 apply by default.

Frames are hand-built (RFC 9113 §4.1) so that a test can send what a well-behaved client
library refuses to; header blocks are HPACK-encoded with ``hpack`` (which ``h2``
depends on). Most tests speak h2c (prior knowledge) on plain TCP; one repeats the reset
case over TLS. Every wait is bounded: socket timeouts and bounded loops, no sleeps.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import hpack
import pytest
from conftest import TLSFiles

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import LiveServer, serve

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0x0,
    0x1,
    0x3,
    0x4,
    0x6,
    0x7,
    0x8,
    0x9,
)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
# Error codes (RFC 9113 §7).
PROTOCOL_ERROR, REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = 0x1, 0x7, 0x8, 0xB
# SETTINGS identifiers (RFC 9113 §6.5.2).
SETTINGS_NAMES = {
    0x1: "HEADER_TABLE_SIZE",
    0x2: "ENABLE_PUSH",
    0x3: "MAX_CONCURRENT_STREAMS",
    0x4: "INITIAL_WINDOW_SIZE",
    0x5: "MAX_FRAME_SIZE",
    0x6: "MAX_HEADER_LIST_SIZE",
}


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream)


def frame_bytes(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return frame(kind, flags, stream, payload) + payload


def request_block(path: str, encoder: hpack.Encoder | None = None) -> bytes:
    return (encoder or hpack.Encoder()).encode(
        [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "test")]
    )


def rst(stream: int, code: int = CANCEL) -> bytes:
    return frame_bytes(RST_STREAM, 0, stream, struct.pack(">I", code))


@dataclass
class Frame:
    kind: int
    flags: int
    stream: int
    payload: bytes


@dataclass
class H2Client:
    """One raw HTTP/2 connection: sends bytes, parses the frames that come back."""

    sock: socket.socket
    buffer: bytes = b""
    decoder: hpack.Decoder = field(default_factory=hpack.Decoder)
    encoder: hpack.Encoder = field(default_factory=hpack.Encoder)
    closed: bool = False
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: dict[int, bytes] = field(default_factory=dict)
    resets: dict[int, int] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def open(self) -> None:
        """Preface and an empty SETTINGS; the server's SETTINGS are ACKed as they come."""
        self.send(PREFACE + frame_bytes(SETTINGS, 0, 0))

    def request(self, stream: int, path: str, end_stream: bool = True) -> bytes:
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        return frame_bytes(HEADERS, flags, stream, request_block(path, self.encoder))

    def frames(self, limit: int = 10_000) -> Iterator[Frame]:
        """Frames as they arrive, until the server closes (bounded by the socket
        timeout per read and by ``limit`` reads)."""
        for _ in range(limit):
            while len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) < 9 + length:
                    break
                kind, flags = self.buffer[3], self.buffer[4]
                stream = int.from_bytes(self.buffer[5:9], "big") & 0x7FFF_FFFF
                payload = self.buffer[9 : 9 + length]
                self.buffer = self.buffer[9 + length :]
                if kind == SETTINGS and not flags & ACK:
                    try:
                        self.send(frame_bytes(SETTINGS, ACK, 0))
                    except OSError:
                        pass  # the server has closed; its last frames are still read
                f = Frame(kind, flags, stream, payload)
                self._record(f)
                yield f
            if self.closed:
                return
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.closed = True
            self.buffer += chunk
        raise AssertionError("too many reads")

    def response(self, stream: int) -> tuple[int, bytes]:
        """The status and body of ``stream`` (frames of other streams are kept)."""
        if stream in self.finished:
            return self.statuses.get(stream, 0), self.bodies.pop(stream, b"")
        for _ in self.frames():
            if stream in self.finished:
                return self.statuses.get(stream, 0), self.bodies.pop(stream, b"")
        raise AssertionError(f"the connection closed before stream {stream} ended")

    def until(self, kind: int, stream: int | None = None) -> Frame | None:
        """The next frame of ``kind`` (on ``stream``), or None when the server closes."""
        for f in self.frames():
            if f.kind == kind and (stream is None or f.stream == stream):
                return f
        return None

    def _record(self, f: Frame) -> None:
        """Every header block goes through the one HPACK decoder, in order."""
        if f.kind == HEADERS:
            headers = dict(self.decoder.decode(f.payload))
            if ":status" in headers:
                self.statuses[f.stream] = int(headers[":status"])
        elif f.kind == DATA:
            self.bodies[f.stream] = self.bodies.get(f.stream, b"") + f.payload
        elif f.kind == RST_STREAM:
            self.resets[f.stream] = int.from_bytes(f.payload, "big")
            self.finished.add(f.stream)
        if f.kind in (HEADERS, DATA) and f.flags & END_STREAM:
            self.finished.add(f.stream)

    def ping(self, data: bytes = b"pingpong") -> None:
        """Round trip: everything sent before it has been read by the server."""
        self.send(frame_bytes(PING, 0, 0, data))
        for f in self.frames():
            if f.kind == PING and f.flags & ACK and f.payload == data:
                return
        raise AssertionError("no PING ACK")


def connect(live: LiveServer, timeout: float = 10) -> H2Client:
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=timeout)
    client = H2Client(sock)
    client.open()
    return client


class Root:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.blocked = threading.Event()
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    def block(self) -> str:
        """Holds its worker until the test releases it (bounded)."""
        self._count("block")
        self.blocked.set()
        self.release.wait(20)
        return "released"

    @cherrypy.expose
    def secret(self) -> str:
        self._count("secret")
        return "secret"


def still_serves(live: LiveServer) -> None:
    client = connect(live)
    try:
        client.send(client.request(1, "/"))
        assert client.response(1) == (200, b"hello")
    finally:
        client.sock.close()


def test_server_settings_are_the_documented_ones() -> None:
    """The limits announced in the server's first SETTINGS (docs/tls.md lists them)."""
    with serve(Root(), http2=True, max_request_header_size=65536) as live:
        client = connect(live)
        with client.sock:
            first = client.until(SETTINGS)
        assert first is not None and not first.flags & ACK
        p = first.payload
        settings = {
            SETTINGS_NAMES.get(int.from_bytes(p[i : i + 2], "big"), hex(p[i])): int.from_bytes(
                p[i + 2 : i + 6], "big"
            )
            for i in range(0, len(p), 6)
        }
        assert settings["MAX_CONCURRENT_STREAMS"] == 100
        assert settings["MAX_HEADER_LIST_SIZE"] == 65536
        # hyper's defaults, kept: 1 MiB stream window (the connection window is opened
        # by a WINDOW_UPDATE), 16 KiB frames.
        assert settings.get("INITIAL_WINDOW_SIZE") == 1 << 20
        assert settings.get("MAX_FRAME_SIZE", 16384) == 16384


def test_streams_beyond_the_limit_are_refused() -> None:
    root = Root()
    with serve(root, http2=True, thread_pool=4, http2_max_concurrent_streams=2) as live:
        client = connect(live)
        with client.sock:
            # Sent before the server's SETTINGS are read: the third stream exceeds them.
            client.send(b"".join(client.request(s, "/block") for s in (1, 3, 5)))
            reset = client.until(RST_STREAM, 5)
            assert reset is not None
            assert int.from_bytes(reset.payload, "big") in (REFUSED_STREAM, PROTOCOL_ERROR)
            root.release.set()
            assert client.response(1) == (200, b"released")
            assert client.response(3) == (200, b"released")
        assert root.calls["block"] == 2
        still_serves(live)


def test_a_reset_stream_never_reaches_python() -> None:
    """A request queued behind a busy worker and reset by the client is dropped from the
    queue: the handler never runs (the claim is abandoned, service.rs)."""
    root = Root()
    with serve(root, http2=True, thread_pool=1) as live:
        client = connect(live)
        with client.sock:
            client.send(client.request(1, "/block"))
            assert root.blocked.wait(10)
            client.send(client.request(3, "/secret"))
            client.ping()  # the server has read stream 3 and queued its request
            client.send(rst(3))
            client.ping()  # ... and has read the reset
            root.release.set()
            assert client.response(1) == (200, b"released")
            client.send(client.request(5, "/"))
            assert client.response(5) == (200, b"hello")
        assert root.calls.get("secret", 0) == 0


def test_rapid_reset_flood() -> None:
    """HEADERS + RST_STREAM, hundreds of times in one write (CVE-2023-44487): h2 answers
    with GOAWAY ENHANCE_YOUR_CALM once more than 20 streams are reset before they were
    accepted; none of the requests runs while the only worker is busy, and the server
    goes on serving other connections."""
    root = Root()
    with serve(root, http2=True, thread_pool=1) as live:
        blocker = connect(live)
        with blocker.sock:
            blocker.send(blocker.request(1, "/block"))
            assert root.blocked.wait(10)
            client = connect(live)
            with client.sock:
                flood = b"".join(client.request(s, "/secret") + rst(s) for s in range(1, 1000, 2))
                try:
                    client.send(flood)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server closed first
                goaway = client.until(GOAWAY)
                assert goaway is not None, "the flood got no GOAWAY"
                assert int.from_bytes(goaway.payload[4:8], "big") == ENHANCE_YOUR_CALM
            root.release.set()
            assert blocker.response(1) == (200, b"released")
        still_serves(live)
        assert root.calls.get("secret", 0) == 0


def test_settings_flood_is_bounded() -> None:
    """SETTINGS frames sent without reading the ACKs: h2 takes the next frame only once
    the last ACK is buffered, so the server stops reading instead of queuing ACKs; the
    connection is closed (send timeout) and nobody else waits."""
    with serve(Root(), http2=True, socket_timeout=1) as live:
        sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with sock:
            sock.sendall(PREFACE + frame_bytes(SETTINGS, 0, 0))
            one = frame_bytes(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 65535))
            sent = 0
            sock.settimeout(3)
            try:
                for _ in range(100_000):
                    sock.sendall(one * 100)
                    sent += 100
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
            assert sent < 10_000_000
            # Meanwhile another client is served.
            still_serves(live)
            # The flooder is cut off: reads end (EOF or reset) within bounded time.
            sock.settimeout(10)
            ended = False
            for _ in range(100_000):
                try:
                    if not sock.recv(65536):
                        ended = True
                        break
                except (ConnectionResetError, BrokenPipeError):
                    ended = True
                    break
            assert ended


def test_ping_flood_is_answered_or_cut() -> None:
    """PINGs as fast as the socket takes them, never reading: as SETTINGS, the server
    holds one PONG at a time and stops reading."""
    with serve(Root(), http2=True, socket_timeout=1) as live:
        sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with sock:
            sock.sendall(PREFACE + frame_bytes(SETTINGS, 0, 0))
            one = frame_bytes(PING, 0, 0, b"12345678")
            sock.settimeout(3)
            try:
                for _ in range(100_000):
                    sock.sendall(one * 100)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
            still_serves(live)


def test_continuation_flood_gets_goaway() -> None:
    """A header block that never ends (CVE-2024-27316 and kin): HEADERS without
    END_HEADERS, then thousands of CONTINUATION frames. h2 counts them against the header
    list size and answers GOAWAY ENHANCE_YOUR_CALM; no request is made."""
    root = Root()
    with serve(root, http2=True, max_request_header_size=16384) as live:
        client = connect(live)
        with client.sock:
            client.send(frame_bytes(HEADERS, END_STREAM, 1, request_block("/secret")))
            junk = hpack.Encoder().encode([("x-junk", "a" * 100)])
            try:
                for _ in range(200):
                    client.send(b"".join(frame_bytes(CONTINUATION, 0, 1, junk) for _ in range(50)))
            except (BrokenPipeError, ConnectionResetError):
                pass
            goaway = client.until(GOAWAY)
            assert goaway is not None
            assert int.from_bytes(goaway.payload[4:8], "big") in (
                ENHANCE_YOUR_CALM,
                PROTOCOL_ERROR,
            )
        assert root.calls.get("secret", 0) == 0
        still_serves(live)


def test_empty_continuation_flood_gets_goaway() -> None:
    """Empty CONTINUATION frames add nothing to the header list: h2 limits their
    number instead."""
    root = Root()
    with serve(root, http2=True) as live:
        client = connect(live)
        with client.sock:
            client.send(frame_bytes(HEADERS, END_STREAM, 1, request_block("/secret")))
            try:
                for _ in range(100):
                    client.send(frame_bytes(CONTINUATION, 0, 1) * 1000)
            except (BrokenPipeError, ConnectionResetError):
                pass
            goaway = client.until(GOAWAY)
            assert goaway is not None
            assert int.from_bytes(goaway.payload[4:8], "big") == ENHANCE_YOUR_CALM
        assert root.calls.get("secret", 0) == 0


@pytest.mark.parametrize("count", [1, 10])
def test_reset_over_tls_never_reaches_python(tls_files: TLSFiles, count: int) -> None:
    """The reset case over TLS (ALPN h2), with one and with ten reset streams."""
    root = Root()
    with serve(root, thread_pool=1, **tls_files.settings()) as live:
        ctx = tls_files.client_context()
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", live.port), timeout=10)
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            assert sock.selected_alpn_protocol() == "h2"
            client = H2Client(sock)
            client.open()
            client.send(client.request(1, "/block"))
            assert root.blocked.wait(10)
            streams = range(3, 3 + 2 * count, 2)
            client.send(b"".join(client.request(s, "/secret") for s in streams))
            client.ping()
            client.send(b"".join(rst(s) for s in streams))
            client.ping()
            root.release.set()
            assert client.response(1) == (200, b"released")
        assert root.calls.get("secret", 0) == 0


class Streamer:
    """A streamed body far larger than what the server buffers for one stream."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    @cherrypy.config(**{"response.stream": True})
    def stream(self) -> Iterator[bytes]:
        def chunks() -> Iterator[bytes]:
            try:
                for _ in range(64):
                    yield b"x" * 16384
            finally:
                self.closed.set()

        return chunks()


def test_a_stream_the_client_never_reads_releases_its_worker() -> None:
    """The client opens no flow-control window for its stream but keeps the connection
    busy (PINGs): the worker producing the body gives it up after socket_timeout instead
    of waiting as long as the connection lives, the body is closed, the one worker serves
    the next request, and the starved stream ends in a reset, never a complete-looking
    body (rust/bridge/body_sender.rs)."""
    root = Streamer()
    with serve(root, http2=True, thread_pool=1, socket_timeout=1) as live:
        client = connect(live)
        with client.sock:
            # Stream windows of 0 bytes: the server may send headers but no DATA.
            client.send(frame_bytes(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 0)))
            client.send(client.request(1, "/stream"))
            for i in range(40):
                client.ping(b"ping%04d" % i)
                if root.closed.wait(0.2):
                    break
            assert root.closed.is_set(), "the worker still waits on the starved stream"
            assert client.statuses.get(1) == 200
            # The one worker is free again.
            with socket.create_connection(("127.0.0.1", live.port), timeout=10) as other:
                other.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := other.recv(65536):
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"hello")
            # Opening the window lets out what was buffered, then the reset.
            client.send(frame_bytes(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 24)))
            client.send(frame_bytes(WINDOW_UPDATE, 0, 1, struct.pack(">I", 1 << 24)))
            _, body = client.response(1)
            assert 1 in client.resets
            assert 0 < len(body) < 64 * 16384
