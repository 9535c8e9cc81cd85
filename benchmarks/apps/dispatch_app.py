"""MethodDispatcher benchmark app: a REST resource answering GET.

Usage: ``python dispatch_app.py <cherrypy|cherrypy_rs> PORT`` serves it on
127.0.0.1:PORT with the production-like settings of ``hello_cherrypy.py``.

- ``GET /``: ``Hello, world!`` (the readiness probe of ``bench_hello.py``), through the
  default dispatcher;
- ``GET /api/items/3``: the ``GET`` method of the ``items`` resource, chosen by
  ``cherrypy.dispatch.MethodDispatcher`` (``request.dispatch`` on ``/api``), with the
  item id as its positional argument.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "cherrypy_rs":
    import cherrypy_rs

    sys.modules["cherrypy"] = cherrypy_rs

import cherrypy


@cherrypy.expose
class Items:
    """A REST collection: ``GET /api/items`` lists, ``GET /api/items/<id>`` shows one."""

    def GET(self, item_id: str | None = None) -> str:
        if item_id is None:
            return "items: 1, 2, 3"
        return f"item {item_id}: the item number {item_id}"


class Api:
    items = Items()


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "Hello, world!"

    api = Api()


CONFIG = {
    "global": {
        "server.socket_host": "127.0.0.1",
        "server.socket_queue_size": 128,
        "log.screen": False,
        "log.access_file": "",
        "log.error_file": "",
        "engine.autoreload.on": False,
        "checker.on": False,
        "request.show_tracebacks": False,
    },
    "/api": {"request.dispatch": cherrypy.dispatch.MethodDispatcher()},
}


def main() -> None:
    config = {**CONFIG, "global": {**CONFIG["global"], "server.socket_port": int(sys.argv[2])}}
    cherrypy.quickstart(Root(), "/", config)


if __name__ == "__main__":
    main()
