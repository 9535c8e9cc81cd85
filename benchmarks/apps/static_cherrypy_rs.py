"""Static-file benchmark app for cherrypy_rs (Rust HTTP server).

Usage: ``python static_cherrypy_rs.py PORT DIR``

Serves the files of DIR under ``/static/`` with ``tools.staticdir`` on
127.0.0.1:PORT, with the production-like settings of ``hello_cherrypy.py``: no
logging to the screen, no access/error log files, no autoreload, no config
checker, no tracebacks in error pages, and a listen backlog of 128.
``static_cherrypy.py`` is the same program with
``import cherrypy``; keep them in sync.
"""

import os
import sys

import cherrypy_rs as cherrypy


class Root:
    """Application root; the files are served by the ``/static`` section."""

    @cherrypy.expose
    def index(self) -> str:
        """Say where the files are."""
        return "Static files are under /static/."


def main() -> None:
    """Start the server on 127.0.0.1 at the port argv[1], serving directory argv[2]."""
    port = int(sys.argv[1])
    directory = os.path.abspath(sys.argv[2])
    config = {
        "global": {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            # CherryPy's default listen backlog is 5: with 50 wrk connections
            # opening at once, SYNs get dropped and retried after 1 s.
            "server.socket_queue_size": 128,
            "log.screen": False,
            "log.access_file": "",
            "log.error_file": "",
            "engine.autoreload.on": False,
            "checker.on": False,
            "request.show_tracebacks": False,
        },
        "/static": {
            "tools.staticdir.on": True,
            "tools.staticdir.dir": directory,
        },
    }
    cherrypy.quickstart(Root(), "/", config)


if __name__ == "__main__":
    main()
