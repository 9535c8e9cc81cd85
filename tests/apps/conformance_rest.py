"""Conformance app 1: a JSON REST API written the way CherryPy 18's docs teach.

``MethodDispatcher`` resources with ``@cherrypy.popargs``, ``tools.json_in`` /
``tools.json_out``, ``tools.auth_basic`` on the admin resource, ``HTTPError`` turned
into JSON by an ``error_page.default`` callable, ``tools.response_headers``, a CORS tool
answering preflight ``OPTIONS`` requests, and ``tools.allow`` on a plain resource
served by the default dispatcher. Served by tests/apps/run_conformance.py.
"""

# No "from __future__ import annotations": tools.params reads the annotations, and
# CherryPy cannot use string ones (docs/compatibility.md, Differs).
import json
from typing import Any

import cherrypy
from cherrypy.lib import auth_basic

USERS = {"admin": "s3cret", "jos\u00e9": "p\u00e4ss"}


def json_error_page(status: str, message: str, traceback: str, version: str) -> str:
    """error_page.default: every error as a JSON document."""
    cherrypy.response.headers["Content-Type"] = "application/json"
    return json.dumps({"status": status, "message": message})


def cors() -> bool:
    """A HandlerTool: CORS headers on every response, preflight answered here."""
    req = cherrypy.request
    resp = cherrypy.response
    origin = req.headers.get("Origin")
    if origin:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Vary"] = "Origin"
    if req.method == "OPTIONS" and "Access-Control-Request-Method" in req.headers:
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE"
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
        resp.headers["Access-Control-Max-Age"] = "600"
        resp.status = 204
        resp.body = b""
        return True
    return False


cherrypy.tools.cors = cherrypy._cptools.HandlerTool(cors)


@cherrypy.expose
@cherrypy.popargs("item_id")
class Items:
    """/api/items and /api/items/<id>."""

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "teapot", "price": 12.5},
            2: {"id": 2, "name": "kettle", "price": 30},
        }

    def _get(self, item_id: str) -> dict[str, Any]:
        try:
            key = int(item_id)
        except ValueError:
            raise cherrypy.HTTPError(400, f"Item id must be an integer, not {item_id!r}") from None
        if key not in self.items:
            raise cherrypy.HTTPError(404, f"No item {key}")
        return self.items[key]

    @cherrypy.tools.json_out()
    def GET(self, item_id: str | None = None, sort: str = "id", limit: str | None = None) -> Any:
        if item_id is not None:
            return self._get(item_id)
        rows = sorted(self.items.values(), key=lambda r: r[sort])
        if limit is not None:
            rows = rows[: int(limit)]
        return {"items": rows, "count": len(rows)}

    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def POST(self) -> dict[str, Any]:
        data = cherrypy.request.json
        if not isinstance(data, dict) or "name" not in data:
            raise cherrypy.HTTPError(422, "A name is required")
        key = max(self.items) + 1
        self.items[key] = {"id": key, "name": data["name"], "price": data.get("price", 0)}
        cherrypy.response.status = 201
        cherrypy.response.headers["Location"] = cherrypy.url(f"/api/items/{key}")
        return self.items[key]

    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def PUT(self, item_id: str) -> dict[str, Any]:
        item = self._get(item_id)
        item.update(cherrypy.request.json)
        return item

    def DELETE(self, item_id: str) -> None:
        item = self._get(item_id)
        del self.items[item["id"]]
        cherrypy.response.status = 204


@cherrypy.expose
class Admin:
    """/api/admin: behind basic auth; who is logged in."""

    @cherrypy.tools.json_out()
    def GET(self) -> dict[str, Any]:
        return {"user": cherrypy.request.login, "method": cherrypy.request.method}

    @cherrypy.tools.json_out()
    def DELETE(self) -> dict[str, str]:
        return {"reset": cherrypy.request.login}


@cherrypy.expose
class Api:
    """/api: the API's index; children are the resources."""

    def __init__(self) -> None:
        self.items = Items()
        self.admin = Admin()

    @cherrypy.tools.json_out()
    def GET(self) -> dict[str, Any]:
        return {"resources": [cherrypy.url("items"), cherrypy.url("admin")], "version": 1}


class Conflict(cherrypy.HTTPError):
    """An HTTPError subclass with a JSON body of its own."""

    def __init__(self, what: str) -> None:
        super().__init__(409, f"{what} already exists")
        self.what = what

    def set_response(self) -> None:
        super().set_response()
        resp = cherrypy.serving.response
        resp.headers["Content-Type"] = "application/json"
        resp.headers["X-Conflict"] = self.what
        resp.body = json.dumps({"conflict": self.what}).encode()
        # HTTPError.set_response padded its HTML page for IE and fixed Content-Length
        # to that page's length: the new body needs a new one.
        resp.headers.pop("Content-Length", None)


def pretty_json(*args: Any, **kwargs: Any) -> bytes:
    """tools.json_out handler: sorted keys, an indent, a newline."""
    value = cherrypy.serving.request._json_inner_handler(*args, **kwargs)
    return (json.dumps(value, sort_keys=True, indent=1) + "\n").encode()


def plain_errors() -> None:
    """request.error_response: a text body for unexpected errors."""
    cherrypy.response.status = 500
    cherrypy.response.headers["Content-Type"] = "text/plain"
    cherrypy.response.body = [b"Sorry, something broke on our side."]


def csv_processor(entity: Any) -> None:
    """A request.body processor for text/csv: rows into request.params['rows']."""
    text = entity.fp.read().decode(entity.charset or "utf-8")
    rows = [line.split(",") for line in text.splitlines() if line]
    cherrypy.serving.request.params["rows"] = rows


class Tools:
    """/tools: more built-in tools, as decorators."""

    @cherrypy.expose
    @cherrypy.tools.params()
    def typed(self, n: int, ratio: float = 1.0, flag: bool = False) -> str:
        return f"n={n!r} ratio={ratio!r} flag={flag!r}"

    @cherrypy.expose
    @cherrypy.tools.flatten()
    def nested(self) -> Any:
        # Bytes: tools.encode runs before flatten and leaves nested iterators as they are.
        def inner() -> Any:
            yield b"b"
            yield (letter for letter in (b"c", b"d"))

        return [b"a", inner(), b"e"]

    @cherrypy.expose
    @cherrypy.tools.autovary()
    def varies(self) -> str:
        return f"lang={cherrypy.request.headers.get('Accept-Language', '-')}"

    @cherrypy.expose
    @cherrypy.tools.ignore_headers(headers=("Range", "Accept-Language"))
    def ignoring(self) -> str:
        return f"range={cherrypy.request.headers.get('Range')}"

    @cherrypy.expose
    @cherrypy.tools.redirect(url="/status", internal=False)
    def old(self) -> str:
        return "never"

    @cherrypy.expose
    @cherrypy.tools.trailing_slash(missing=False, extra=True)
    def leaf(self) -> str:
        return "leaf"

    @cherrypy.expose
    @cherrypy.config(**{"request.body.processors": {"text/csv": csv_processor}})
    def upload_csv(self, rows: list[list[str]] | None = None) -> str:
        return json.dumps(rows)

    @cherrypy.expose
    @cherrypy.config(**{"request.process_request_body": False})
    def raw(self, **params: str) -> str:
        # request.body.read() of an unprocessed body fails in CherryPy (Differs): read
        # the socket file as CherryPy's docs do.
        length = int(cherrypy.request.headers.get("Content-Length", 0))
        data = cherrypy.request.rfile.read(length)
        return f"{len(data)} bytes: {data[:20]!r} params={sorted(params)}"

    @cherrypy.expose
    @cherrypy.tools.json_in(force=False)
    @cherrypy.tools.json_out()
    def maybe_json(self, **kwargs: Any) -> Any:
        return {"json": getattr(cherrypy.request, "json", None), "kwargs": kwargs}


class Root:
    """The default dispatcher part of the site."""

    @cherrypy.expose
    def conflict(self, name: str = "teapot") -> str:
        raise Conflict(name)

    @cherrypy.expose
    @cherrypy.tools.json_out(handler=pretty_json)
    def pretty(self) -> dict[str, Any]:
        return {"b": [1, 2], "a": {"z": None, "y": True}}

    @cherrypy.expose
    @cherrypy.tools.accept(media=["application/json", "text/plain"])
    def negotiate(self) -> str:
        return f"chose {cherrypy.request.headers.get('Accept', '')!r}"

    @cherrypy.expose
    def moved(self) -> None:
        raise cherrypy.InternalRedirect("/echo/internal", "from=moved")

    @cherrypy.expose
    @cherrypy.config(**{"request.error_response": plain_errors})
    def fragile(self) -> str:
        raise KeyError("missing")

    @cherrypy.expose
    def nothing(self) -> None:
        cherrypy.response.headers["X-Empty"] = "yes"

    @cherrypy.expose
    def number(self) -> Any:
        return [b"4", b"2"]

    @cherrypy.expose
    def index(self) -> str:
        return "REST demo; see /api"

    @cherrypy.expose
    @cherrypy.tools.allow(methods=["GET", "HEAD"])
    def status(self) -> str:
        return "ok"

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def echo(self, *args: str, **kwargs: Any) -> dict[str, Any]:
        return {"args": list(args), "kwargs": kwargs}

    @cherrypy.expose
    def teapot(self) -> str:
        raise cherrypy.HTTPError(418)

    @cherrypy.expose
    def broken(self) -> str:
        raise ValueError("boom")


CONFIG: dict[str, dict[str, Any]] = {
    "/": {
        "error_page.default": json_error_page,
        "tools.response_headers.on": True,
        "tools.response_headers.headers": [("X-Api-Version", "1"), ("Cache-Control", "no-store")],
    },
    "/api": {
        "request.dispatch": cherrypy.dispatch.MethodDispatcher(),
        "tools.cors.on": True,
    },
    "/api/admin": {
        "tools.auth_basic.on": True,
        "tools.auth_basic.realm": "api",
        "tools.auth_basic.checkpassword": auth_basic.checkpassword_dict(USERS),
        "tools.auth_basic.accept_charset": "UTF-8",
    },
}


def serve(port: int, workdir: str) -> None:
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "log.screen": False,
        }
    )
    root = Root()
    root.api = Api()
    root.tools = Tools()
    cherrypy.quickstart(root, "/", CONFIG)
