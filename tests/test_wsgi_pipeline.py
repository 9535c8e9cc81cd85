"""An application's WSGI middleware pipeline (``wsgi.pipeline``, ``app.wsgiapp``):
served by our server through a real socket, the first entry outermost."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import cherrypy_rs as cherrypy
from cherrypy_rs._tree import Application
from cherrypy_rs.testing import serve

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "HellO WoRlD!"

    @cherrypy.expose
    def where(self, q: str = "") -> str:
        return f"{cherrypy.request.script_name}|{cherrypy.request.path_info}|{q}"

    @cherrypy.expose
    def go(self) -> None:
        raise cherrypy.HTTPRedirect("where")


class Replace:
    """Replaces bytes in each chunk of the body (``mapping``)."""

    def __init__(self, app: WSGIApp, mapping: dict[bytes, bytes]) -> None:
        self.app = app
        self.mapping = mapping

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        for chunk in self.app(environ, start_response):
            for old, new in self.mapping.items():
                chunk = chunk.replace(old, new)
            yield chunk


class Upper:
    """Upper-cases the body and tags the response with a header (``header``)."""

    def __init__(self, app: WSGIApp, header: str = "X-Upper") -> None:
        self.app = app
        self.header = header

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        def tagged(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen = f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}"
            return start_response(status, [*headers, (self.header, seen)], exc_info)

        for chunk in self.app(environ, tagged):
            yield chunk.upper()


def make_app() -> Application:
    app = Application(
        Root(),
        "/app",
        {"/": {"wsgi.pipeline": [("replace", Replace)], "wsgi.replace.mapping": {b"l": b"r"}}},
    )
    # The config's entry came first: put Upper in front of it (outermost).
    app.wsgiapp.pipeline.insert(0, ("upper", Upper))
    app.wsgiapp.config["upper"] = {"header": "X-Seen"}
    return app


def test_pipeline_wraps_the_application_in_order() -> None:
    with serve(apps={"/app": make_app()}) as live:
        status, headers, body = live.get("/app/")
        # Replace (inner) runs first on the body, then Upper: "HERRO WORRD!".
        # The other order would give "HELLO WORLD!".
        assert (status, body) == (200, b"HERRO WORRD!")
        assert headers["X-Seen"] == "/app|/"


def test_native_behaviour_survives_the_pipeline() -> None:
    with serve(apps={"/app": make_app()}) as live:
        status, headers, body = live.get("/app/where?q=x")
        assert (status, body) == (200, b"/APP|/WHERE|X")
        status, headers, _ = live.get("/app/go")
        assert status in (302, 303)
        assert headers["Location"].endswith("/app/where")
        assert headers["X-Seen"] == "/app|/go"
        status, headers, _ = live.get("/app/missing")
        assert status == 404
        assert headers["X-Seen"] == "/app|/missing"


def test_an_application_without_a_pipeline_stays_native() -> None:
    app = Application(Root(), "/plain")
    with serve(apps={"/plain": app}) as live:
        status, headers, body = live.get("/plain/")
        assert (status, body) == (200, b"HellO WoRlD!")
        assert "X-Seen" not in headers
    assert app.wsgiapp.pipeline == [] and app.wsgiapp.head is None


def test_static_files_go_through_a_pipeline_set_in_code(serve_app: Any, tmp_path: Path) -> None:
    """A pipeline given in code (``app.wsgiapp.pipeline``, no ``wsgi.*`` key in the
    config) wraps the static files of the application too: Rust served them around
    the middleware (an authentication middleware was bypassed)."""

    class Deny:
        def __init__(self, nextapp: Any) -> None:
            self.nextapp = nextapp

        def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"no"]

    (tmp_path / "a.txt").write_text("secret")
    static = {"tools.staticdir.on": True, "tools.staticdir.dir": str(tmp_path)}
    app = cherrypy.Application(Root(), "", {"/static": static})
    app.wsgiapp.pipeline.append(("deny", Deny))
    live = serve_app(app)
    assert live.get("/static/a.txt")[::2] == (401, b"no")
    assert live.get("/favicon.ico")[0] == 401
