"""Static files: a directory and a single file from config (served by Rust, no Python
call per request), and files from handlers with ``lib.static``.

Run with: python examples/static_files.py   (then open http://127.0.0.1:8080/)
"""

from __future__ import annotations

import os
from typing import Any

import cherrypy_rs as cherrypy
from cherrypy_rs.lib.static import serve_download, serve_file

HERE = os.path.dirname(os.path.abspath(__file__))


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return (
            '<a href="/files/hello.py">/files/hello.py</a> (from this directory), '
            '<a href="/readme">/readme</a> (one file), '
            '<a href="/source">/source</a> (serve_file), '
            '<a href="/download">/download</a> (serve_download)'
        )

    @cherrypy.expose
    def source(self) -> Any:
        return serve_file(os.path.join(HERE, "static_files.py"), content_type="text/plain")

    @cherrypy.expose
    def download(self) -> Any:
        return serve_download(os.path.join(HERE, "hello.py"))


CONFIG = {
    "/files": {
        "tools.staticdir.on": True,
        "tools.staticdir.dir": HERE,
        # cherrypy_rs extension: serve X.gz / X.br next to X to clients that accept them.
        "tools.staticdir.precompressed": True,
        "response.headers.Cache-Control": "max-age=60",
    },
    "/readme": {
        "tools.staticfile.on": True,
        "tools.staticfile.filename": os.path.join(HERE, "hello.py"),
    },
}

if __name__ == "__main__":
    cherrypy.quickstart(Root(), "/", CONFIG)
