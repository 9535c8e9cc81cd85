"""Tools benchmark app: JSON (``tools.json_out``) and gzip (``tools.gzip``) pages.

Usage: ``python tools_app.py <cherrypy|cherrypy_rs> PORT`` serves it on 127.0.0.1:PORT
with the production-like settings of ``hello_cherrypy.py``; ``tools_app:wsgi`` is the
same application on real CherryPy as a WSGI callable (served by granian).

- ``GET /``: ``Hello, world!`` (the readiness probe of ``bench_hello.py``);
- ``GET /json?n=7``: a 1 KB JSON object built from the query parameter, through
  ``@cherrypy.tools.json_out()``;
- ``GET /page``: a 20 KB HTML page with ``tools.gzip`` on.
"""

from __future__ import annotations

import sys
from typing import Any

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "cherrypy_rs":
    import cherrypy_rs

    sys.modules["cherrypy"] = cherrypy_rs

import cherrypy

#: 20 KB of HTML that compresses like a real page (repeated markup, varying numbers).
PAGE = (
    "<!DOCTYPE html><html><head><title>Report</title></head><body><table>"
    + "".join(
        f"<tr><td class='id'>{i}</td><td>item number {i * 7919 % 10007}</td>"
        f"<td>{'ok' if i % 3 else 'pending'}</td></tr>"
        for i in range(300)
    )
)[:20_000] + "</table></body></html>"


def payload(n: int) -> dict[str, Any]:
    """A dict of about 1 KB of JSON."""
    return {
        "n": n,
        "name": f"item-{n}",
        "tags": ["alpha", "beta", "gamma", "delta"],
        "values": [n * i for i in range(40)],
        "nested": {"ok": True, "ratio": n / 7, "label": "x" * 330},
        "items": [{"id": i, "text": f"entry {i}"} for i in range(12)],
    }


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "Hello, world!"

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def json(self, n: str = "1") -> dict[str, Any]:
        return payload(int(n))

    @cherrypy.expose
    def page(self) -> str:
        return PAGE

    page._cp_config = {"tools.gzip.on": True}


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
}


def _wsgi() -> Any:
    """CherryPy's Application as a WSGI callable, its own HTTP server left off."""
    cherrypy.config.update({**CONFIG["global"], "environment": "production"})
    cherrypy.server.unsubscribe()
    app = cherrypy.tree.mount(Root(), "/")
    cherrypy.engine.start()
    return app


def main() -> None:
    config = {"global": {**CONFIG["global"], "server.socket_port": int(sys.argv[2])}}
    cherrypy.quickstart(Root(), "/", config)


_wsgi_app: Any = None


def __getattr__(name: str) -> Any:
    """``tools_app:wsgi`` (granian's import) mounts the application on first use, so
    that importing the module for its classes starts nothing."""
    global _wsgi_app
    if name == "wsgi":
        if _wsgi_app is None:
            _wsgi_app = _wsgi()
        return _wsgi_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
