"""``cherrypy.request.wsgi_environ`` on the native path: the connection keys CherryPy
apps read (cheroot's environ has them), through a real socket."""

from __future__ import annotations

import json
import socket

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import serve

KEYS = ("wsgi.url_scheme", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR")


class Root:
    @cherrypy.expose
    def index(self) -> str:
        environ = cherrypy.request.wsgi_environ
        return json.dumps({k: environ[k] for k in (*KEYS, "REMOTE_PORT")})


def test_native_environ_names_the_connection() -> None:
    with serve(Root()) as live:
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
            client_port = sock.getsockname()[1]
            sock.sendall(b"GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(body) == {
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(live.port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": str(client_port),
    }


def _wsgi_echo(environ: dict[str, object], start_response: object) -> list[bytes]:
    keys = ("SERVER_NAME", "SERVER_PORT", "HTTP_HOST", "REMOTE_ADDR", "REMOTE_PORT")
    body = json.dumps({k: environ.get(k) for k in keys}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
    return [body]


def _exchange(port: int, source: str, host: bytes | None) -> tuple[dict[str, object], int]:
    """One request from ``source`` with ``host`` as its Host (None: an HTTP/1.0
    request without one); the environ keys the app saw and the client's port."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        client_port = s.getsockname()[1]
        if host is None:
            s.sendall(b"GET /w/ HTTP/1.0\r\n\r\n")
        else:
            s.sendall(b"GET /w/ HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")), head
    return json.loads(body), client_port


def test_wsgi_environ_follows_each_request_on_one_worker() -> None:
    """The gateway keeps the last Host, listener and client strings per worker thread:
    a request that brings other ones must see its own, never the previous request's."""
    with serve(Root(), apps={"/w": _wsgi_echo}, thread_pool=1) as live:
        cases = [
            ("127.0.0.1", b"a.example:8080", "a.example", "a.example:8080"),
            ("127.0.0.1", b"a.example:8080", "a.example", "a.example:8080"),
            ("127.0.0.2", b"b.example", "b.example", "b.example"),
            ("127.0.0.1", b"[::1]:81", "[::1]", "[::1]:81"),
            ("127.0.0.2", None, "127.0.0.1", None),
            ("127.0.0.1", b"a.example:8080", "a.example", "a.example:8080"),
        ]
        for source, host, server_name, http_host in cases:
            seen, client_port = _exchange(live.port, source, host)
            assert seen == {
                "SERVER_NAME": server_name,
                "SERVER_PORT": str(live.port),
                "HTTP_HOST": http_host,
                "REMOTE_ADDR": source,
                "REMOTE_PORT": str(client_port),
            }, (source, host)
