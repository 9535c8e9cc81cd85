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
