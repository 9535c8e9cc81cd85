"""Worker processes: a master forks two workers that serve one socket; each page says
which worker answered. An engine plugin (``Monitor``) runs in every worker.

Run with: cherrypy-rs run workers:Root --chdir examples --workers 2 --bind 127.0.0.1:8080
   or:    python examples/workers.py   (server.workers in the config; then open
          http://127.0.0.1:8080/ and reload: the PID changes; `kill -HUP <master>`
          replaces the workers without dropping a request)
"""

import os

import cherrypy_rs as cherrypy
from cherrypy_rs.process.plugins import Monitor

TICKS = {"count": 0}


def tick():
    TICKS["count"] += 1


class Root:
    @cherrypy.expose
    def index(self):
        return f"Hello from worker {os.getpid()} (monitor ticks: {TICKS['count']})"


# Every worker runs the engine, and with it this plugin.
cherrypy.engine.ticker = Monitor(cherrypy.engine, tick, frequency=1, name="ticker")
cherrypy.engine.ticker.subscribe()


if __name__ == "__main__":
    cherrypy.quickstart(Root(), "/", {"global": {"server.socket_port": 8080, "server.workers": 2}})
