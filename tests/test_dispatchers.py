"""The dispatchers other than the default one, through a real socket: MethodDispatcher,
VirtualHost, RoutesDispatcher, XMLRPCDispatcher, a dispatcher written for CherryPy (a
plain callable), and ``request.dispatch`` per path; the per-path cache must keep each
request-dependent result apart."""

from __future__ import annotations

import xmlrpc.client
from typing import Any, Callable

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs.lib.xmlrpcutil import XMLRPCController

ServeApp = Callable[..., Any]


class Resource:
    exposed = True

    def GET(self, name: str = "world") -> str:
        return f"GET {name}"

    def POST(self, name: str) -> str:
        cherrypy.response.status = 201
        return f"POST {name}"

    @cherrypy.config(**{"response.headers.X-Put": "yes"})
    def PUT(self) -> str:
        return "PUT " + cherrypy.request.config.get("mine", "-")


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "object tree"

    @cherrypy.expose
    def where(self, *args: str) -> str:
        return "/".join(("where", *args))


def method_app() -> Any:
    root = Root()
    root.api = Resource()  # type: ignore[attr-defined]
    return root


def test_method_dispatcher(serve_app: ServeApp) -> None:
    conf = {"/": {"request.dispatch": cherrypy.dispatch.MethodDispatcher(), "mine": "conf"}}
    live = serve_app(Resource(), "", conf)
    status, headers, body = live.request("GET", "/?name=bob")
    assert (status, body, headers["Allow"]) == (200, b"GET bob", "GET, HEAD, POST, PUT")
    status, headers, body = live.request(
        "POST", "/", body=b"name=al", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (status, body) == (201, b"POST al")
    status, headers, body = live.request("PUT", "/")
    assert (status, body, headers["X-Put"]) == (200, b"PUT conf", "yes")
    # The method's _cp_config applied to PUT only, though GET has the same path.
    status, headers, body = live.request("GET", "/")
    assert (body, headers.get("X-Put")) == (b"GET world", None)
    status, headers, body = live.request("HEAD", "/")
    assert (status, body, headers["Allow"]) == (200, b"", "GET, HEAD, POST, PUT")
    status, headers, body = live.request("DELETE", "/")
    assert (status, headers["Allow"]) == (405, "GET, HEAD, POST, PUT")
    assert b"405 Method Not Allowed" in body
    # Missing arguments are a 404 as with the object dispatcher, not a 500.
    assert live.request("POST", "/")[0] == 404
    # As CherryPy: the remaining path atoms are positional arguments of the method.
    assert live.request("GET", "/nope")[2] == b"GET nope"
    assert live.request("GET", "/nope/a/b")[0] == 404


def test_request_dispatch_per_path(serve_app: ServeApp) -> None:
    conf = {"/api": {"request.dispatch": cherrypy.dispatch.MethodDispatcher()}}
    live = serve_app(method_app(), "", conf)
    assert live.get("/")[2] == b"object tree"
    assert live.get("/where/a/b")[2] == b"where/a/b"
    status, headers, body = live.get("/api")
    assert (status, body, headers["Allow"]) == (200, b"GET world", "GET, HEAD, POST, PUT")
    assert live.request("DELETE", "/api")[0] == 405
    # The object tree still answers after the other dispatcher was cached.
    assert live.request("DELETE", "/")[2] == b"object tree"


class Site:
    @cherrypy.expose
    def index(self) -> str:
        return "main site"

    @cherrypy.expose
    def page(self) -> str:
        return "main page " + cherrypy.url("/page")


class Other:
    @cherrypy.expose
    def index(self) -> str:
        return "other site"

    @cherrypy.expose
    def page(self) -> str:
        return "other page"


def vhost_app() -> Any:
    root = Site()
    root.other = Other()  # type: ignore[attr-defined]
    return root


@pytest.mark.parametrize("forwarded", [True, False])
def test_virtual_host(serve_app: ServeApp, forwarded: bool) -> None:
    dispatch = cherrypy.dispatch.VirtualHost(
        use_x_forwarded_host=forwarded, **{"other.example": "/other"}
    )
    live = serve_app(vhost_app(), "", {"/": {"request.dispatch": dispatch}})
    for _ in range(2):  # the second round is served from the cache
        assert live.get("/page", headers={"Host": "other.example"})[2] == b"other page"
        assert live.get("/page", headers={"Host": "main.example"})[2].startswith(b"main page")
        assert live.get("/", headers={"Host": "other.example"})[2] == b"other site"
        assert live.get("/")[2] == b"main site"
        by_proxy = live.get(
            "/", headers={"Host": "main.example", "X-Forwarded-Host": "other.example"}
        )
        assert by_proxy[2] == (b"other site" if forwarded else b"main site")


class Blog:
    def show(self, year: str, slug: str) -> str:
        return f"post {year}/{slug}"

    def create(self) -> str:
        return "created"

    def index(self) -> str:
        return "blog index"


def test_routes_dispatcher(serve_app: ServeApp) -> None:
    pytest.importorskip("routes")
    d = cherrypy.dispatch.RoutesDispatcher()
    blog = Blog()
    d.connect("post", "/blog/{year}/{slug}", controller=blog, action="show")
    d.connect("create", "/blog", controller=blog, action="create", conditions={"method": ["POST"]})
    d.connect("index", "/blog", controller=blog, action="index", conditions={"method": ["GET"]})
    live = serve_app(
        None, "", {"/": {"request.dispatch": d}, "/blog": {"response.headers.X-Blog": "1"}}
    )
    status, headers, body = live.get("/blog/2024/hello")
    assert (status, body, headers["X-Blog"]) == (200, b"post 2024/hello", "1")
    assert live.get("/blog")[2] == b"blog index"
    assert live.request("POST", "/blog")[2] == b"created"
    assert live.get("/blog")[2] == b"blog index"
    assert live.get("/nothing/here")[0] == 404


def test_routes_dispatcher_without_routes_names_the_package(monkeypatch: Any) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "routes", None)
    with pytest.raises(ImportError, match=r"needs the 'routes' package: pip install routes"):
        cherrypy.dispatch.RoutesDispatcher()


class RPC(XMLRPCController):
    @cherrypy.expose
    def add(self, a: int, b: int) -> int:
        return a + b

    @cherrypy.expose
    def boom(self) -> None:
        raise ValueError("it broke")

    def hidden(self) -> str:
        return "not exposed"


def test_xmlrpc(serve_app: ServeApp) -> None:
    root = Root()
    root.xmlrpc = RPC()  # type: ignore[attr-defined]
    conf = {"/xmlrpc": {"request.dispatch": cherrypy.dispatch.XMLRPCDispatcher()}}
    live = serve_app(root, "", conf)
    with xmlrpc.client.ServerProxy(live.url("/xmlrpc/")) as proxy:
        assert proxy.add(2, 3) == 5
        with pytest.raises(xmlrpc.client.Fault, match="it broke"):
            proxy.boom()
        with pytest.raises(xmlrpc.client.Fault, match='method "hidden" is not supported'):
            proxy.hidden()
    assert live.get("/")[2] == b"object tree"


def test_a_dispatcher_written_for_cherrypy(serve_app: ServeApp) -> None:
    inner = cherrypy.dispatch.Dispatcher()
    seen: list[str] = []

    def dispatch(path_info: str) -> Any:
        seen.append(path_info)
        return inner(path_info.replace("/alias", "/where"))

    live = serve_app(Root(), "", {"/": {"request.dispatch": dispatch, "mine": 1}})
    assert live.get("/alias/x/y")[2] == b"where/x/y"
    assert live.get("/alias/x/y")[2] == b"where/x/y"
    assert live.get("/")[2] == b"object tree"
    assert live.get("/missing")[0] == 404
    # Called for each request: what it does may depend on the request.
    assert seen == ["/alias/x/y", "/alias/x/y", "/", "/missing"]


def test_cherrypy_protocol_of_each_dispatcher(serve_app: ServeApp) -> None:
    """Each dispatcher also works the way CherryPy calls it (``dispatcher(path_info)``
    setting ``request.handler`` and ``request.config``), as a wrapper would use it."""
    method = cherrypy.dispatch.MethodDispatcher()
    vhost = cherrypy.dispatch.VirtualHost(**{"other.example": "/other"})

    def wrapped_method(path_info: str) -> Any:
        return method(path_info.replace("/m", "/api", 1))

    def wrapped_vhost(path_info: str) -> Any:
        return vhost(path_info.replace("/v", "", 1))

    conf = {
        "/m": {"request.dispatch": wrapped_method},
        "/v": {"request.dispatch": wrapped_vhost},
    }
    root = vhost_app()
    root.api = Resource()  # type: ignore[attr-defined]
    live = serve_app(root, "", conf)
    status, headers, body = live.get("/m?name=x")
    assert (status, body, headers["Allow"]) == (200, b"GET x", "GET, HEAD, POST, PUT")
    status, headers, _body = live.request("DELETE", "/m")
    assert (status, headers["Allow"]) == (405, "GET, HEAD, POST, PUT")
    assert live.request("PUT", "/m")[1]["X-Put"] == "yes"
    assert live.get("/v/page", headers={"Host": "other.example"})[2] == b"other page"
    assert live.get("/v/page", headers={"Host": "main.example"})[2].startswith(b"main page")
    assert live.get("/v/nowhere/at/all")[0] == 404
