"""The demo site served by ``cherrypy-rs demo``: one page per feature of the
framework (dispatch, forms, streaming, errors, static files served by Rust, a grafted
WSGI app)."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator
from typing import Any

import cherrypy_rs as cherrypy
from cherrypy_rs.lib.static import serve_download

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cherrypy_rs demo</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body>
<h1>cherrypy_rs demo</h1>
<p>CherryPy's programming model on a Rust HTTP server.</p>
<ul>
<li><a href="/greet?name=world">/greet?name=world</a>: query-string parameters</li>
<li><a href="/greet/alice">/greet/alice</a>: a positional path argument</li>
<li><a href="/form">/form</a>: a form posted back to the server</li>
<li><a href="/api/info">/api/info</a>: JSON from a nested object</li>
<li><a href="/stream">/stream</a>: a streamed (chunked) response</li>
<li><a href="/redirect">/redirect</a>: an HTTPRedirect (303)</li>
<li><a href="/missing">/missing</a>: CherryPy's 404 page</li>
<li><a href="/boom">/boom</a>: an exception in a handler (500, server keeps serving)</li>
<li><a href="/wsgi/hello">/wsgi/hello</a>: a plain WSGI application grafted at /wsgi</li>
<li><a href="/static/hello.txt">/static/hello.txt</a>: a static file (tools.staticdir),
served by Rust with no Python call</li>
<li><a href="/download">/download</a>: lib.static.serve_download from a handler</li>
</ul>
</body></html>
"""


#: The files of the demo's /static section.
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_static")


class Api:
    """A nested object: its handlers live under /api/."""

    @cherrypy.expose
    def info(self) -> bytes:
        cherrypy.response.headers["Content-Type"] = "application/json"
        request = cherrypy.request
        data = {
            "method": request.method,
            "path_info": request.path_info,
            "remote": request.remote.ip,
            "base": request.base,
            "server": cherrypy.__version__,
        }
        return json.dumps(data).encode()


class DemoRoot:
    """The demo's root object."""

    api = Api()

    @cherrypy.expose
    def index(self) -> str:
        return _PAGE

    @cherrypy.expose
    def greet(self, name: str = "stranger", *args: str) -> str:
        who = "/".join((name, *args))
        return f"<p>Hello, {html.escape(who)}!</p>"

    @cherrypy.expose
    def form(self, message: str | None = None) -> str:
        echo = f"<p>You said: {html.escape(message)}</p>" if message else ""
        return f"{echo}<form method='post'><input name='message'><button>Send</button></form>"

    @cherrypy.expose
    def stream(self) -> Iterator[str]:
        for i in range(5):
            yield f"chunk {i}\n"

    stream._cp_config = {"response.stream": True}  # type: ignore[attr-defined]

    @cherrypy.expose
    def redirect(self) -> None:
        raise cherrypy.HTTPRedirect("/greet?name=redirected")

    @cherrypy.expose
    def download(self) -> Any:
        return serve_download(os.path.join(STATIC_DIR, "hello.txt"))

    @cherrypy.expose
    def boom(self) -> None:
        raise RuntimeError("this handler fails on purpose")


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A plain WSGI application, grafted at /wsgi beside the CherryPy tree."""
    body = json.dumps(
        {
            "SCRIPT_NAME": environ["SCRIPT_NAME"],
            "PATH_INFO": environ["PATH_INFO"],
            "QUERY_STRING": environ["QUERY_STRING"],
            "SERVER_SOFTWARE": environ["SERVER_SOFTWARE"],
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def demo_config() -> dict[str, Any]:
    """The demo's application config."""
    return {
        "/": {"request.show_tracebacks": False},
        "/static": {"tools.staticdir.on": True, "tools.staticdir.dir": STATIC_DIR},
    }
