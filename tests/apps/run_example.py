"""Runs a program that calls ``cherrypy_rs.quickstart()`` (an example, the README's
first program) as ``__main__``, on 127.0.0.1:$DOCS_PORT instead of the port it names,
so the docs tests can run it as shown without a fixed port.

    DOCS_PORT=8123 python tests/apps/run_example.py examples/hello.py [args...]
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any

import cherrypy_rs

_quickstart = cherrypy_rs.quickstart


def quickstart(root: Any = None, script_name: str = "", config: Any = None) -> None:
    """The real quickstart, with the address moved into the config's global section."""
    config = dict(config or {})
    config["global"] = {
        **config.get("global", {}),
        "server.socket_host": "127.0.0.1",
        "server.socket_port": int(os.environ["DOCS_PORT"]),
    }
    _quickstart(root, script_name, config)


cherrypy_rs.quickstart = quickstart

if __name__ == "__main__":
    path, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_path(path, run_name="__main__")
