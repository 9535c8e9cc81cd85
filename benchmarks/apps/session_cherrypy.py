"""Session benchmark app for CherryPy 18 (cheroot).

Usage: ``python session_cherrypy.py PORT``

``GET /`` -> ``Hello, world!`` (no session: the readiness probe), ``GET /count`` -> a
counter kept in ``cherrypy.session``. The environment picks the store:
``BENCH_SESSION_STORE`` = ``ram`` (default), ``file`` (in ``BENCH_SESSION_DIR``) or
``redis`` (at ``BENCH_REDIS_URL``, cherrypy_rs only); ``BENCH_WORKERS`` > 1 runs a
master with that many worker processes (cherrypy_rs only). Production-like settings
as in the hello apps. ``session_cherrypy_rs.py`` is the same program with the other import; keep
them in sync.
"""

import os
import sys

import cherrypy
from cherrypy.lib import sessions


def store_config() -> dict:
    store = os.environ.get("BENCH_SESSION_STORE", "ram")
    if store == "file":
        return {
            "tools.sessions.storage_class": sessions.FileSession,
            "tools.sessions.storage_path": os.environ["BENCH_SESSION_DIR"],
        }
    if store == "redis":
        return {
            "tools.sessions.storage_class": sessions.RedisSession,
            "tools.sessions.url": os.environ["BENCH_REDIS_URL"],
        }
    return {"tools.sessions.storage_class": sessions.RamSession}


class Root:
    """Application root: a hello page and a session counter."""

    @cherrypy.expose
    def index(self) -> str:
        return "Hello, world!"

    @cherrypy.expose
    def count(self) -> str:
        n = cherrypy.session.get("n", 0) + 1
        cherrypy.session["n"] = n
        return str(n)


def main() -> None:
    """Start the server on 127.0.0.1 at the port given in argv[1]."""
    port = int(sys.argv[1])
    workers = int(os.environ.get("BENCH_WORKERS", "1"))
    config = {
        "global": {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "server.socket_queue_size": 128,
            "log.screen": False,
            "log.access_file": "",
            "log.error_file": "",
            "engine.autoreload.on": False,
            "checker.on": False,
            "request.show_tracebacks": False,
            **({"server.workers": workers} if workers > 1 else {}),
        },
        "/count": {"tools.sessions.on": True, **store_config()},
    }
    cherrypy.quickstart(Root(), "/", config)


if __name__ == "__main__":
    main()
