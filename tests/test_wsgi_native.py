"""cherrypy_rs applications are WSGI applications too: served here by the standard
library's wsgiref server (on 127.0.0.1:0), as gunicorn or any WSGI server would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.validate import validator

import pytest
import requests

import cherrypy_rs as cherrypy
from cherrypy_rs._tree import Application, Tree


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "native index"

    @cherrypy.expose
    def greet(self, name: str = "stranger") -> str:
        return f"Hello {name} at {cherrypy.request.script_name}{cherrypy.request.path_info}"

    @cherrypy.expose
    def form(self, **params: str) -> str:
        return repr(sorted(params.items()))

    @cherrypy.expose
    def go(self) -> None:
        raise cherrypy.HTTPRedirect("greet")


@pytest.fixture
def wsgi_server() -> Iterator[object]:
    servers = []

    def start(app: object) -> str:
        server = make_server("127.0.0.1", 0, validator(app), handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_application_is_a_wsgi_app(wsgi_server: object) -> None:
    base = wsgi_server(Application(Root()))  # type: ignore[operator]
    assert requests.get(base + "/", timeout=5).text == "native index"
    assert requests.get(base + "/greet?name=ann", timeout=5).text == "Hello ann at /greet"
    r = requests.post(base + "/form", data={"a": "1", "b": "2"}, timeout=5)
    assert r.text == "[('a', '1'), ('b', '2')]"
    r = requests.get(base + "/go", allow_redirects=False, timeout=5)
    assert (r.status_code, r.headers["Location"]) == (303, base + "/greet")
    r = requests.get(base + "/missing", timeout=5)
    assert r.status_code == 404
    assert "The path '/missing' was not found." in r.text


def test_tree_routes_by_script_name(wsgi_server: object) -> None:
    tree = Tree()
    tree.mount(Root(), "/app")

    def plain(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [f"plain {environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]

    tree.graft(plain, "/plain")
    base = wsgi_server(tree)  # type: ignore[operator]
    assert requests.get(base + "/app/greet", timeout=5).text == "Hello stranger at /app/greet"
    assert requests.get(base + "/plain/x", timeout=5).text == "plain /plain /x"
    assert requests.get(base + "/nothing", timeout=5).status_code == 404
