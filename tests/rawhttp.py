"""A raw HTTP/1.x client for tests that need exact bytes on the wire.

One TCP connection per ``Client``; responses are read one at a time from a buffer, so
keep-alive and pipelined responses come out in order. ``response()`` reads a whole
response (a 1xx interim response counts as one), ``head()`` and ``chunk()`` read a
streamed chunked body chunk by chunk, and ``closed()`` tells within a bounded time
whether the server closed the connection.

Imported as ``from rawhttp import ...``: ``tests/`` has no ``__init__.py``, so pytest's
default ``prepend`` import mode puts ``tests/`` itself on ``sys.path``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    #: The chunks of a chunked body, boundaries kept (None when not chunked).
    chunks: list[bytes] | None = None
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class Truncated(Exception):
    """The server closed the connection in the middle of a response."""

    def __init__(self, partial: bytes, response: Response | None = None) -> None:
        super().__init__(f"connection closed mid-response after {partial[:200]!r}")
        #: The bytes received but not parsed when the connection closed.
        self.partial = partial
        #: The response as far as it was read (head, complete chunks, trailers), or
        #: None when the connection closed before the end of the head.
        self.response = response


def _fields(lines: list[str]) -> list[tuple[str, str]]:
    return [(name.strip(), value.strip()) for name, _, value in (ln.partition(":") for ln in lines)]


class Client:
    """One TCP connection to the server; reads responses one at a time."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        #: The trailer section of the last chunked body read to its end.
        self.trailers: list[tuple[str, str]] = []

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            return False
        self.buf += data
        return True

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if not self._fill():
                raise Truncated(self.buf)
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise Truncated(self.buf)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def head(self) -> Response:
        """Reads a status line and header section (the body, if any, is left unread)."""
        status_line, *lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, status, reason = [*status_line.split(" ", 2), ""][:3]
        return Response(version, int(status), reason, _fields(lines))

    def chunk(self) -> bytes:
        """The next chunk of a chunked body: its data, or b"" for the last chunk, whose
        trailer section is then read into ``self.trailers``."""
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            self.trailers = []
            while line := self._until(b"\r\n").decode("latin-1"):
                self.trailers.extend(_fields([line]))
            return b""
        data = self._exact(size)
        if self._exact(2) != b"\r\n":
            raise AssertionError("chunk data not followed by CRLF")
        return data

    def response(self, method: str = "GET") -> Response:
        """Reads one response to a ``method`` request. A 1xx interim response counts as
        one: call again for the final response. On ``Truncated``, ``exc.response`` holds
        what was read of the response."""
        resp = self.head()
        try:
            self._body(resp, method)
        except Truncated as exc:
            exc.response = resp
            raise
        return resp

    def _body(self, resp: Response, method: str) -> None:
        if resp.status < 200 or resp.status in (204, 304) or method == "HEAD":
            return
        coding = (resp.header("Transfer-Encoding") or "").rsplit(",", 1)[-1]
        if coding.strip().lower() == "chunked":
            resp.chunks = []
            try:
                while chunk := self.chunk():
                    resp.chunks.append(chunk)
                resp.trailers = self.trailers
            finally:
                resp.body = b"".join(resp.chunks)
        elif resp.header("Content-Length") is not None:
            resp.body = self._exact(int(resp.header("Content-Length") or 0))
        else:
            # No framing: the body runs to the end of the connection (RFC 9112 §6.3).
            while self._fill():
                pass
            resp.body, self.buf = self.buf, b""

    def get(self, path: str = "/", extra: str = "", version: str = "HTTP/1.1") -> Response:
        """Sends a GET request and reads its response."""
        self.send(get(path, version, extra))
        return self.response()

    def closed(self, timeout: float = 3.0) -> bool:
        """True when the server closes the connection within ``timeout`` seconds and
        sends nothing more; False if bytes arrive or it stays open."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return not self._fill()
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)


def get(path: str = "/", version: str = "HTTP/1.1", extra: str = "") -> bytes:
    """The bytes of a GET request (with ``Host: test`` for HTTP/1.1); ``extra`` holds
    further header lines, each ending in CRLF."""
    host = "Host: test\r\n" if version == "HTTP/1.1" else ""
    return f"GET {path} {version}\r\n{host}{extra}\r\n".encode()


def refused(port: int) -> bool:
    """Whether a new connection to ``port`` is refused."""
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=1.0)
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # Queued on the listener as it closed: the next attempt tells.
        return False
    conn.close()
    return False


def poll(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """A short bounded poll on ``condition``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
