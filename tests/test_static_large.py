"""Large static files through raw sockets: the paths of the file body's reads.

A file larger than the file cache's in-memory limit (1 MiB) is read from its descriptor
in 256 KiB chunks: from the page cache on the tokio thread (``preadv2`` with
``RWF_NOWAIT``), or, when its pages are not cached, on the blocking pool. Both must give
the file's bytes, whole and in ranges across chunk boundaries; a file that shrinks while
it is being sent ends the response by closing the connection (its length was promised).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from rawhttp import Client

import cherrypy_rs as cherrypy

CHUNK = 256 * 1024
#: Five and a half chunks of a pattern that differs at every chunk boundary.
DATA = bytes((i * 7 + i // 251) % 256 for i in range(CHUNK * 5 + CHUNK // 2))
#: Far more than the socket buffers of both ends hold on loopback (at most ~10 MiB with
#: Linux's default tcp_wmem/tcp_rmem) before the client has read the response's head.
SHRINKING_SIZE = 64 * 1024 * 1024


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "root"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "data.bin").write_bytes(DATA)
    return root


@pytest.fixture
def live(serve_app: Any, site: Path) -> Any:
    section = {
        "tools.staticdir.on": True,
        "tools.staticdir.dir": str(site),
        "tools.staticdir.cache_valid": 0.0,
    }
    return serve_app(Root(), "", {"/static": section})


def evict(path: Path) -> None:
    """Drops the file's pages from the page cache (as far as the kernel agrees)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def get(port: int, extra: str = "", method: str = "GET") -> Any:
    with Client(port) as c:
        c.send(f"{method} /static/data.bin HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
        return c.response(method)


@pytest.mark.parametrize("cached", [True, False], ids=["page-cache", "evicted"])
def test_whole_file(live: Any, site: Path, cached: bool) -> None:
    if not cached:
        evict(site / "data.bin")
    resp = get(live.port)
    assert resp.status == 200
    assert resp.header("Content-Length") == str(len(DATA))
    assert resp.body == DATA


@pytest.mark.parametrize("cached", [True, False], ids=["page-cache", "evicted"])
def test_ranges_across_chunk_boundaries(live: Any, site: Path, cached: bool) -> None:
    if not cached:
        evict(site / "data.bin")
    start, end = CHUNK - 3, 3 * CHUNK + 4  # inclusive end
    resp = get(live.port, f"Range: bytes={start}-{end}\r\n")
    assert resp.status == 206
    assert resp.header("Content-Range") == f"bytes {start}-{end}/{len(DATA)}"
    assert resp.body == DATA[start : end + 1]
    if not cached:
        evict(site / "data.bin")
    resp = get(live.port, f"Range: bytes=0-1,{2 * CHUNK - 1}-{2 * CHUNK}\r\n")
    assert resp.status == 206
    assert resp.header("Content-Type").startswith("multipart/byteranges; boundary=")
    assert DATA[0:2] + b"\r\n" in resp.body
    assert DATA[2 * CHUNK - 1 : 2 * CHUNK + 1] + b"\r\n" in resp.body


def test_head_and_keep_alive_after_a_large_body(live: Any) -> None:
    with Client(live.port) as c:
        for method in ("GET", "HEAD", "GET"):
            c.send(f"{method} /static/data.bin HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            resp = c.response(method)
            assert resp.status == 200
            assert resp.header("Content-Length") == str(len(DATA))
            assert resp.body == (b"" if method == "HEAD" else DATA)


def test_a_file_that_shrinks_while_sent_ends_by_closing(live: Any, site: Path) -> None:
    path = site / "shrinks.bin"
    with path.open("wb") as f:
        f.truncate(SHRINKING_SIZE)  # sparse: zeros
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    try:
        sock.sendall(b"GET /static/shrinks.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(4096)
            assert more, data
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert f"Content-Length: {SHRINKING_SIZE}".lower().encode() in head.lower()
        os.truncate(path, 1000)
        received = len(body)
        while True:
            try:
                more = sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not more:
                break
            received += len(more)
        # Fewer bytes than promised, then the end of the connection: the client can
        # tell the response is incomplete.
        assert 0 < received < SHRINKING_SIZE
    finally:
        sock.close()
    # The server goes on serving.
    assert get(live.port).body == DATA
