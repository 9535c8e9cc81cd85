"""An application whose requests change what the access log shows, served by real
CherryPy or by cherrypy_rs (``tests/test_access_log_compat.py`` compares the lines).

Usage: python tests/apps/access_log_compat_app.py <cherrypy|cherrypy_rs> PORT LOGFILE
[FORMAT] [class|instance]

FORMAT, when given, becomes ``LogManager.access_log_format`` (on the class, or on
the application's log manager, ``app.log``, with ``instance``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "cherrypy_rs":
    try:
        import cherrypy_rs
    except ModuleNotFoundError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        import cherrypy_rs
    sys.modules["cherrypy"] = cherrypy_rs

import cherrypy
from cherrypy import _cplogging
from cherrypy.lib import auth_basic


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    def login(self) -> str:
        cherrypy.request.login = '\u03a4\u1f71 it\'s "q"'
        return "login"

    @cherrypy.expose
    def name(self) -> str:
        cherrypy.request.remote.name = "\u0388\u03c1\u03b5\u03b2\u03bf\u03c2.com"
        return "name"

    @cherrypy.expose
    def line(self) -> str:
        cherrypy.request.request_line = "GET /slashed\\path HTTP/1.1"
        return "line"

    @cherrypy.expose
    def agent(self) -> str:
        cherrypy.request.headers["User-Agent"] = "Browzuh (1.0\r\n\t\t.3)"
        cherrypy.request.headers["Referer"] = "http://elsewhere/"
        return "agent"

    @cherrypy.expose
    def stream(self) -> Iterator[bytes]:
        yield b"one"
        yield b"two"

    stream._cp_config = {"response.stream": True}

    @cherrypy.expose
    def forbidden(self) -> str:
        raise cherrypy.HTTPError(403, "no")

    @cherrypy.expose
    @cherrypy.tools.proxy()
    def proxied(self) -> str:
        return cherrypy.request.remote.ip

    @cherrypy.expose
    @cherrypy.tools.auth_basic(
        realm="r", checkpassword=auth_basic.checkpassword_dict({"ann": "pw"})
    )
    def private(self) -> str:
        return "secret"


def main(argv: list[str]) -> int:
    port, log_file = int(argv[2]), argv[3]
    app = cherrypy.tree.mount(Root(), "/")
    if len(argv) > 4:
        where = argv[5] if len(argv) > 5 else "class"
        if where == "class":
            _cplogging.LogManager.access_log_format = argv[4]
        else:
            app.log.access_log_format = argv[4]
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "checker.on": False,
            "log.screen": False,
            "log.access_file": log_file,
            "environment": "production",
        }
    )
    cherrypy.engine.signals.subscribe()
    cherrypy.engine.start()
    cherrypy.engine.block()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
