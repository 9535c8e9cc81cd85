"""A cherrypy_rs server for the request-body bad-input tests, run as its own process
so that its memory and CPU can be measured: ``python bodies_app.py PORT``.

``/upload`` reports each field (text: its length; file: its size, read in blocks).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import cherrypy_rs as cherrypy


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "ready"

    @cherrypy.expose
    def upload(self, **kwargs: Any) -> str:
        sizes: dict[str, Any] = {}
        for name, value in kwargs.items():
            if isinstance(value, str):
                sizes[name] = len(value)
            elif isinstance(value, list):
                sizes[name] = len(value)
            else:
                size = 0
                while block := value.file.read(65536):
                    size += len(block)
                sizes[name] = size
        return json.dumps(sizes)


def main(port: int) -> None:
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "server.thread_pool": 2,
            "engine.autoreload.on": False,
            "checker.on": False,
            "log.screen": False,
        }
    )
    cherrypy.quickstart(Root(), "/")


if __name__ == "__main__":
    main(int(sys.argv[1]))
