"""Hello-world benchmark app for CherryPy 18 (cheroot).

Usage: ``python hello_cherrypy.py PORT``

Serves ``GET /`` -> ``Hello, world!`` on 127.0.0.1:PORT with production-like
settings: no logging to the screen, no access/error log files, no autoreload,
no config checker, no tracebacks in error pages, and a listen backlog of 128.
``hello_cherrypy_rs.py`` is the same program with
``import cherrypy_rs as cherrypy``; keep them in sync.
"""

import sys

import cherrypy


class Root:
    """Application root with a single exposed handler."""

    @cherrypy.expose
    def index(self) -> str:
        """Return the hello-world body."""
        return "Hello, world!"


def main() -> None:
    """Start the server on 127.0.0.1 at the port given in argv[1]."""
    port = int(sys.argv[1])
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
    }
    cherrypy.quickstart(Root(), "/", config)


if __name__ == "__main__":
    main()
