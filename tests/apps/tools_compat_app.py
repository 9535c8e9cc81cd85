"""One application using CherryPy's built-in tools, served by real CherryPy or by
cherrypy_rs (``tests/test_tools_compat.py`` compares the two on the wire).

Usage: python tests/apps/tools_compat_app.py <cherrypy|cherrypy_rs> PORT
"""

# No "from __future__ import annotations": tools.params converts with the annotation
# objects (CherryPy cannot call string annotations; cherrypy_rs evaluates them).

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "cherrypy_rs":
    try:
        import cherrypy_rs
    except ModuleNotFoundError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        import cherrypy_rs
    sys.modules["cherrypy"] = cherrypy_rs

import cherrypy

PAGE = "<html><body>" + "tools compat " * 200 + "</body></html>"


class Json:
    @cherrypy.expose
    @cherrypy.tools.json_out()
    def out(self, n: str = "1") -> dict[str, Any]:
        return {"n": int(n), "items": list(range(5)), "text": "caf\u00e9"}

    @cherrypy.expose
    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def echo(self) -> Any:
        return {"got": cherrypy.request.json}

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def fail(self) -> Any:
        raise cherrypy.HTTPError(409, "conflict")


class Gzip:
    _cp_config = {"tools.gzip.on": True}

    @cherrypy.expose
    def index(self) -> str:
        return PAGE

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def json(self) -> Any:
        return {"a": 1}

    @cherrypy.expose
    def stream(self) -> Iterator[str]:
        for i in range(5):
            yield f"chunk {i} " * 50

    stream._cp_config = {"response.stream": True}

    @cherrypy.expose
    def missing(self) -> str:
        raise cherrypy.NotFound()

    @cherrypy.expose
    def empty(self) -> str:
        return ""


class Cached:
    _cp_config = {"tools.caching.on": True}

    def __init__(self) -> None:
        self.visits = 0

    @cherrypy.expose
    def index(self) -> str:
        self.visits += 1
        return f"visit #{self.visits}"

    @cherrypy.expose
    def stream(self) -> Iterator[str]:
        self.visits += 1
        yield "streamed "
        yield f"#{self.visits}"

    stream._cp_config = {"response.stream": True}


def _shout() -> None:
    """A before_finalize tool that iterates the body's chunks (as CherryPy holds them:
    a list, also for an HTTPError's page)."""
    cherrypy.response.body = [chunk.upper() for chunk in cherrypy.response.body]


cherrypy.tools.shout = cherrypy.Tool("before_finalize", _shout)


class Shout:
    _cp_config = {"tools.shout.on": True}

    @cherrypy.expose
    def index(self) -> str:
        return "quiet"

    @cherrypy.expose
    def refused(self) -> str:
        raise cherrypy.HTTPError(403, "go away")


class Root:
    shout = Shout()
    json = Json()
    gzip = Gzip()
    cached = Cached()

    @cherrypy.expose
    def index(self) -> str:
        return "root"

    @cherrypy.expose
    def text(self) -> str:
        return "caf\u00e9 \u2603"

    @cherrypy.expose
    @cherrypy.tools.encode(encoding="iso-8859-1")
    def latin(self) -> str:
        return "caf\u00e9"

    @cherrypy.expose
    @cherrypy.tools.etags(autotags=True)
    def tagged(self) -> str:
        return "tagged body"

    @cherrypy.expose
    @cherrypy.tools.allow(methods=["POST"])
    def only_post(self) -> str:
        return "posted"

    @cherrypy.expose
    @cherrypy.tools.accept(media=["text/plain", "application/json"])
    def negotiate(self) -> str:
        return cherrypy.tools.accept.callable(media=["text/plain", "application/json"])

    @cherrypy.expose
    @cherrypy.tools.referer(pattern=r"http://good\.example/")
    def ref(self) -> str:
        return "referred"

    @cherrypy.expose
    @cherrypy.tools.params()
    def add(self, a: int, b: int = 1) -> str:
        return str(a + b)

    @cherrypy.expose
    @cherrypy.tools.expires(secs=0, force=True)
    def fresh(self) -> str:
        return "never cached"

    @cherrypy.expose
    @cherrypy.tools.response_headers(headers=[("X-Custom", "yes")])
    def custom(self) -> str:
        return "custom"

    @cherrypy.expose
    @cherrypy.tools.redirect(url="/text", internal=False)
    def moved(self) -> str:
        return "never"

    @cherrypy.expose
    @cherrypy.tools.autovary()
    def vary(self) -> str:
        return cherrypy.request.headers.get("Accept-Language", "none")

    @cherrypy.expose
    @cherrypy.tools.flatten()
    def nested(self) -> Any:
        def inner() -> Iterator[bytes]:
            yield b"b"
            yield b"c"

        def outer() -> Iterator[Any]:
            yield b"a"
            yield inner()
            yield b"d"

        return outer()


def main(argv: list[str]) -> int:
    port = int(argv[2])
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "checker.on": False,
            "log.screen": False,
            "environment": "production",
        }
    )
    cherrypy.quickstart(Root(), "/", {"/": {}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
