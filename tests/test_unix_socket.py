"""``server.socket_file`` / ``--bind unix:PATH``: HTTP/1.1 over a Unix socket, in one
process and from a master's workers."""

from __future__ import annotations

import http.client
import signal
import socket
from pathlib import Path
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from tests.test_cli import Proc
from tests.test_workers import Master, alive, until


class UnixConnection(http.client.HTTPConnection):
    """http.client over a Unix socket."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def get_unix(path: str, url: str = "/") -> tuple[int, bytes]:
    conn = UnixConnection(path)
    try:
        conn.request("GET", url)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return f"over {cherrypy.request.remote.ip}"


def short_path(tmp_path: Path) -> str:
    # sun_path is 108 bytes: pytest's tmp_path can be longer.
    path = Path("/tmp") / f"cprs-{tmp_path.name[-20:]}.sock"
    return str(path)


def test_socket_file_in_process(serve_app: Any, tmp_path: Path) -> None:
    path = short_path(tmp_path)
    live = serve_app(Root(), socket_file=path)
    assert get_unix(path) == (200, b"over 0.0.0.0")
    assert live.server.describe() == f"unix:{path}"


def test_socket_file_with_tls_is_refused(serve_app: Any, tmp_path: Path, tls_files: Any) -> None:
    with pytest.raises(ValueError, match=r"server\.socket_file: serves plain HTTP/1\.1"):
        serve_app(Root(), socket_file=short_path(tmp_path), **tls_files.settings())


def test_bind_unix_one_process(procs: list, tmp_path: Path) -> None:
    path = short_path(tmp_path)
    proc = Proc("run", "tests.apps.cli_app:Root", "--bind", f"unix:{path}")
    procs.append(proc)
    until(lambda: f"Serving on unix:{path}" in proc.output())
    assert get_unix(path) == (200, b"cli app")
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=10) == 0
    assert not Path(path).exists()


def test_bind_unix_and_tcp_with_workers(procs: list, tmp_path: Path) -> None:
    path = short_path(tmp_path)
    proc = Master(
        "wsgi",
        "tests.apps.workers_app:app",
        "--bind",
        f"unix:{path}",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "2",
    )
    procs.append(proc)
    workers = proc.wait_serving(2)
    for _ in range(10):
        status, body = get_unix(path)
        assert status == 200 and int(body.split()[0]) in workers
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0
    assert not any(alive(p) for p in proc.started())
    assert not Path(path).exists()


def test_a_socket_file_in_use_is_refused(procs: list, tmp_path: Path) -> None:
    path = short_path(tmp_path)
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(path)
        other.listen()
        proc = Proc("run", "tests.apps.cli_app:Root", "--bind", f"unix:{path}", "--workers", "1")
        procs.append(proc)
        assert proc.popen.wait(timeout=15) == 2
    assert "another server is listening on it" in proc.output()
    Path(path).unlink()
