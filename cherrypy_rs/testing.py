"""Serve an application in-process on 127.0.0.1 for tests.

A context manager::

    from cherrypy_rs.testing import serve

    with serve(Root()) as live:
        status, headers, body = live.request("GET", "/")

and pytest fixtures (``pytest_plugins = ["cherrypy_rs.testing"]``): ``serve_app`` is
``serve`` as a fixture that stops every server it started when the test ends.

The port is chosen by the OS (port 0) and known as soon as the server is started: no
fixed ports, no sleeps.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import context
from ._server import Server
from ._tree import Application, Tree


class LiveServer:
    """A running test server: its address and a small HTTP client."""

    def __init__(
        self, server: Server, tree: Tree, client_context: ssl.SSLContext | None = None
    ) -> None:
        self.server = server
        self.tree = tree
        host, port = server.bound_addr or ("127.0.0.1", 0)
        self.host = host
        self.port = port
        self.scheme = server.scheme
        self.base = f"{self.scheme}://{host}:{port}"
        #: The TLS context ``request`` uses for an HTTPS server (trusting its CA).
        self.client_context = client_context

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base + path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one request on a new connection; return (status, headers, body)."""
        conn: http.client.HTTPConnection
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.client_context
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> tuple[int, http.client.HTTPMessage, bytes]:
        return self.request("GET", path, **kwargs)


@contextmanager
def serve(
    root: Any = None,
    script_name: str = "",
    config: Any = None,
    *,
    apps: dict[str, Any] | None = None,
    access_log: str | None = None,
    client_context: ssl.SSLContext | None = None,
    **server_settings: Any,
) -> Iterator[LiveServer]:
    """Serve ``root`` on 127.0.0.1:0 until the ``with`` block ends, then stop gracefully.

    ``apps`` maps more script names to applications: ``Application`` objects and root
    objects are mounted, WSGI callables grafted.

    ``server_settings`` are ``server.*`` keys without the prefix (``thread_pool=2``).
    The global ``cherrypy_rs.config`` applies, as it does to ``quickstart``.
    ``access_log`` names a file that receives the access log.
    With ``ssl_certificate=...`` (and ``ssl_private_key``) the server speaks HTTPS;
    ``client_context`` is the ``ssl.SSLContext`` that ``LiveServer.request`` uses then.
    """
    tree = Tree()
    if apps:
        for name, app in apps.items():
            if isinstance(app, Application) or not callable(app) or hasattr(app, "exposed"):
                tree.mount(app, name)
            else:
                tree.graft(app, name)
    if root is not None or not apps:
        if isinstance(root, Application):
            tree.mount(root, root.script_name)
        else:
            tree.mount(root, script_name, config)
    server = Server()
    server.tree = tree
    server.global_config = context.site.config
    server.log_error = context.site.log.error
    server.access_log_screen = False
    server.access_log_file = access_log or ""
    server.settings.update(socket_host="127.0.0.1", socket_port=0)
    for key, value in server_settings.items():
        server.apply(key, value)
    server.start()
    try:
        yield LiveServer(server, tree, client_context)
    finally:
        server.stop()


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def serve_app() -> Iterator[Any]:
        """``serve`` as a factory fixture: ``live = serve_app(Root())``."""
        stack: list[Any] = []

        def start(*args: Any, **kwargs: Any) -> LiveServer:
            cm = serve(*args, **kwargs)
            live = cm.__enter__()
            stack.append(cm)
            return live

        yield start
        while stack:
            stack.pop().__exit__(None, None, None)
