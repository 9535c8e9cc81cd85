"""Conformance app 4: one process serving several applications, as CherryPy 18 sites do.

Two applications mounted with ``cherrypy.tree.mount``, each with its own INI config file
(``conformance_multi/*.conf``: ``[/]`` sections, reprconf values built from expressions,
a dispatcher constructed in the file, an application namespace), a root application with
a ``VirtualHost`` dispatcher and ``tools.proxy`` behind forwarding headers, a WSGI
application grafted with ``tree.graft``, engine plugins (``engine.subscribe``, a
``SimplePlugin`` on a channel of its own, ``engine.publish``), ``cherrypy.log``, a custom
``Toolbox`` namespace with two tools and a ``hooks.before_finalize`` entry given in a
config file. Served by tests/apps/run_conformance.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

import cherrypy
from cherrypy.lib import httputil
from cherrypy.process import plugins

HERE = os.path.dirname(os.path.abspath(__file__))
ERROR_LOG = ""
EVENTS: list[str] = []


# -- hooks and tools -------------------------------------------------------------------
def stamp() -> None:
    """hooks.before_finalize (named in blog.conf): which handler answered."""
    req = cherrypy.request
    cherrypy.response.headers["X-Stamp"] = f"{req.app.script_name}|{req.path_info}"


def set_currency(default: str = "USD") -> None:
    """mytools.currency: a default for the handler's currency argument."""
    cherrypy.request.params.setdefault("currency", default)


def price_header() -> None:
    """mytools.price_header: echo the currency the handler used."""
    cur = cherrypy.request.params.get("currency")
    if cur:
        cherrypy.response.headers["X-Currency"] = cur


mytools = cherrypy._cptools.Toolbox("mytools")
mytools.currency = cherrypy.Tool("before_handler", set_currency)
mytools.price_header = cherrypy.Tool("before_finalize", price_header)


# -- engine plugins --------------------------------------------------------------------
class HitCounter(plugins.SimplePlugin):
    """Counts 'hit' messages; answers with the running count."""

    def __init__(self, bus: Any) -> None:
        super().__init__(bus)
        self.count = 0

    def start(self) -> None:
        EVENTS.append("counter start")

    start.priority = 40  # type: ignore[attr-defined]

    def hit(self, page: str) -> int:
        self.count += 1
        return self.count

    def subscribe(self) -> None:
        super().subscribe()
        self.bus.subscribe("hit", self.hit)


def on_start() -> None:
    EVENTS.append("engine start")


# -- the blog --------------------------------------------------------------------------
class Blog:
    title = "untitled"
    per_page = 10
    tags: list[str] = []
    posts = [f"Post n\u00b0{i}" for i in range(1, 8)]

    @cherrypy.expose
    def index(self, page: str = "1") -> str:
        n = int(page)
        shown = self.posts[(n - 1) * self.per_page : n * self.per_page]
        hits = cherrypy.engine.publish("hit", "blog")
        return f"{self.title} | page {n}: {'; '.join(shown)} | tags {self.tags} | hits {hits}"

    @cherrypy.expose
    def feed(self) -> bytes:
        cherrypy.response.headers["Content-Type"] = "application/atom+xml"
        # tools.encode only encodes text/* bodies: the rest must be bytes already.
        return ("<feed><title>" + self.title + "</title></feed>").encode()

    @cherrypy.expose
    def config_view(self) -> str:
        conf = cherrypy.request.config
        keys = sorted(k for k in conf if k.startswith(("tools.response", "tools.encode", "blog")))
        return "\n".join(f"{k}={conf[k]!r}" for k in keys)

    @cherrypy.expose
    def where(self) -> str:
        return cherrypy.url("where") + " " + cherrypy.url("/x", relative=True)


class Archive:
    @cherrypy.expose
    def by_year(self, year: str = "2024") -> str:
        return f"archive {year}"


class Shop:
    def _cp_dispatch(self, vpath: list[str]) -> Any:
        if len(vpath) == 2 and vpath[0] == "sku":
            vpath.pop(0)
            cherrypy.request.params["code"] = vpath.pop(0)
            return self.sku
        return vpath

    @cherrypy.expose
    def sku(self, code: str, currency: str = "?") -> str:
        return f"sku {code} in {currency}"

    @cherrypy.expose
    def index(self, currency: str = "?") -> str:
        return f"shop prices in {currency}"

    @cherrypy.expose
    def item(self, name: str, currency: str = "?") -> str:
        return f"{name}: 10 {currency}"


@cherrypy.expose
class Cart:
    contents: list[str] = []

    def GET(self, currency: str = "?") -> dict[str, Any]:
        return {"items": self.contents, "currency": currency}

    def POST(self, item: str, currency: str = "?") -> dict[str, Any]:
        self.contents.append(item)
        cherrypy.response.status = 201
        return {"added": item, "currency": currency}


@cherrypy.expose
class Checkout:
    def POST(self, currency: str = "?") -> dict[str, Any]:
        return {"paid": len(Cart.contents), "currency": currency}

    def GET(self, currency: str = "?") -> dict[str, Any]:
        return {"pending": len(Cart.contents)}


# -- the root application (virtual hosts, proxy) ---------------------------------------
class Docs:
    @cherrypy.expose
    def index(self) -> str:
        return "documentation home"

    @cherrypy.expose
    def page(self, name: str) -> str:
        return f"doc page {name} at {cherrypy.url()}"


class Root:
    def __init__(self) -> None:
        self.docs = Docs()

    @cherrypy.expose
    def index(self) -> str:
        return "portal"

    @cherrypy.expose(["about-us", "about_us"])
    def about(self) -> str:
        return "about the portal"

    @cherrypy.expose
    def default(self, *args: str, **kwargs: str) -> str:
        return f"default {list(args)} {sorted(kwargs)} is_index={cherrypy.request.is_index}"

    @cherrypy.expose
    def urls(self, *parts: str) -> str:
        """cherrypy.url() in the forms apps use."""
        forms = [
            cherrypy.url(),
            cherrypy.url(qs="a=1&b=2"),
            cherrypy.url("page"),
            cherrypy.url("/abs/page"),
            cherrypy.url("../up"),
            cherrypy.url("page", relative=True),
            cherrypy.url("/abs/page", relative="server"),
            cherrypy.url("page", script_name="/mount"),
            cherrypy.url("page", base="https://cdn.example"),
            cherrypy.url("/x", qs="q=%C3%A9", relative=True),
            cherrypy.url("?only=qs"),
            cherrypy.url(""),
        ]
        req = cherrypy.request
        head = (
            f"script_name={req.script_name!r} path_info={req.path_info!r} is_index={req.is_index}"
        )
        return "\n".join([head, *forms])

    @cherrypy.expose
    def util(self, q: str = "a=1&a=2&b=%C3%A9&c") -> str:
        """cherrypy.lib.httputil helpers an app may call."""
        accept = cherrypy.request.headers.elements("Accept")
        return "\n".join(
            [
                repr(sorted(httputil.parse_query_string(q).items())),
                repr([str(e) for e in accept]),
                repr([(e.value, e.qvalue) for e in accept]),
                repr(httputil.valid_status("404 Gone Fishing")),
                repr(httputil.valid_status(201)),
                repr(
                    [
                        str(e)
                        for e in httputil.header_elements(
                            "Accept-Encoding", "gzip;q=0.5, br, *;q=0"
                        )
                    ]
                ),
                httputil.urljoin("/a/", "/b"),
                httputil.urljoin("", "b"),
                repr(httputil.decode_TEXT("=?utf-8?q?caf=C3=A9?=")),
                repr(httputil.HeaderMap.encode_header_item("caf\u00e9 \u2603")),
            ]
        )

    @cherrypy.expose
    def whoami(self) -> str:
        req = cherrypy.request
        return (
            f"base={req.base} scheme={req.scheme} remote={req.remote.ip} "
            f"host={req.headers.get('Host')} url={cherrypy.url('/x', qs='a=1')}"
        )

    @cherrypy.expose
    def go(self) -> None:
        raise cherrypy.HTTPRedirect("/whoami")

    @cherrypy.expose
    def events(self) -> str:
        return f"{EVENTS}"

    @cherrypy.expose
    def logit(self, msg: str) -> str:
        cherrypy.log(msg, context="PORTAL")
        cherrypy.log.error(f"second {msg}", "PORTAL")
        with open(ERROR_LOG, encoding="utf-8") as fh:
            lines = [ln.rstrip("\n") for ln in fh if "PORTAL" in ln]
        # "[02/Dec/2026:07:00:00] PORTAL msg": the time stamp differs run to run.
        return "\n".join(re.sub(r"^\[[^\]]*\] ", "[T] ", ln) for ln in lines[-2:])


def legacy_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A plain WSGI application grafted under /legacy."""
    if environ["PATH_INFO"] == "/boom":
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"legacy failure"]
    body = (
        f"script={environ['SCRIPT_NAME']} path={environ['PATH_INFO']} "
        f"qs={environ.get('QUERY_STRING', '')} method={environ['REQUEST_METHOD']}"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("X-Legacy", "yes")])
    return [body]


def serve(port: int, workdir: str) -> None:
    global ERROR_LOG
    ERROR_LOG = os.path.join(workdir, "error.log")
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "log.screen": False,
            "log.error_file": ERROR_LOG,
        }
    )
    blog_root = Blog()
    blog_root.archive = Archive()
    blog = cherrypy.Application(blog_root, "/blog")
    blog.namespaces["blog"] = lambda key, value: setattr(Blog, key, value)
    blog.merge(os.path.join(HERE, "conformance_multi", "blog.conf"))
    cherrypy.tree.mount(blog)

    shop_root = Shop()
    shop_root.cart = Cart()
    shop_root.cart.checkout = Checkout()
    shop = cherrypy.Application(shop_root, "/shop")
    shop.toolboxes = dict(shop.toolboxes, mytools=mytools)
    shop.merge(os.path.join(HERE, "conformance_multi", "shop.conf"))
    cherrypy.tree.mount(shop)

    cherrypy.tree.mount(
        Root(),
        "",
        {
            "/": {
                "request.dispatch": cherrypy.dispatch.VirtualHost(
                    **{"docs.example.com": "/docs", "docs.example.com:8080": "/docs"}
                ),
                "tools.proxy.on": True,
                "tools.proxy.remote": "X-Forwarded-For",
            }
        },
    )
    cherrypy.tree.graft(legacy_app, "/legacy")

    HitCounter(cherrypy.engine).subscribe()
    cherrypy.engine.subscribe("start", on_start, priority=30)
    cherrypy.engine.signals.subscribe()
    cherrypy.engine.start()
    cherrypy.engine.block()
