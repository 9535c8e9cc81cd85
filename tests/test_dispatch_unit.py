"""The object dispatcher as a pure function (no server, no request): what
``Dispatcher.resolve`` finds for a path, the config it merges, and the per-path cache."""

from __future__ import annotations

from typing import Any

import cherrypy_rs as cherrypy
from cherrypy_rs import dispatch
from cherrypy_rs._tree import Application


class Leaf:
    @cherrypy.expose
    def index(self) -> str:
        return "leaf index"

    @cherrypy.expose
    def page(self, *args: str) -> str:
        return "page"

    page._cp_config = {"handler.key": "handler"}  # type: ignore[attr-defined]


class WithDefault:
    _cp_config = {"node.key": "default-node"}

    @cherrypy.expose
    def default(self, *args: str) -> str:
        return "default"


class Dynamic:
    def _cp_dispatch(self, vpath: list[str]) -> Any:
        vpath.pop(0)
        return Leaf()


class Root:
    _cp_config = {"root.key": "root", "shared": "root"}
    leaf = Leaf()
    other = WithDefault()
    dyn = Dynamic()
    not_exposed = object()

    @cherrypy.expose
    def index(self) -> str:
        return "root index"

    @cherrypy.expose
    def a_b(self) -> str:
        return "translated"


def resolve(path: str, config: dict[str, Any] | None = None) -> dispatch.Resolution:
    app = Application(Root(), "", config)
    return dispatch.Dispatcher().resolve(app, path, {"global.key": "global", "shared": "g"})


def name(resolution: dispatch.Resolution) -> str:
    return resolution.handler.__name__  # type: ignore[union-attr]


def test_index_of_root_and_of_a_node() -> None:
    r = resolve("/")
    assert (name(r), r.vpath, r.is_index) == ("index", [], True)
    r = resolve("/leaf/")
    assert (name(r), r.vpath, r.is_index) == ("index", [], True)
    assert resolve("/leaf").is_index is True


def test_method_with_virtual_path() -> None:
    r = resolve("/leaf/page/x/y")
    assert (name(r), r.vpath, r.is_index) == ("page", ["x", "y"], False)


def test_default_catches_the_rest() -> None:
    r = resolve("/other/a/b")
    assert (name(r), r.vpath) == ("default", ["a", "b"])
    assert r.config["node.key"] == "default-node"


def test_punctuation_is_translated() -> None:
    assert name(resolve("/a.b")) == "a_b"
    assert name(resolve("/a-b")) == "a_b"


def test_not_found_and_not_exposed() -> None:
    assert resolve("/missing").handler is None
    assert resolve("/not_exposed").handler is None
    assert resolve("/leaf/missing").handler is None


def test_cp_dispatch_is_not_cacheable() -> None:
    r = resolve("/dyn/anything/page")
    assert name(r) == "page"
    assert r.cacheable is False
    assert resolve("/leaf/page").cacheable is True


def test_config_merge_order() -> None:
    config = {
        "/": {"shared": "slash", "slash.key": 1},
        "/leaf": {"shared": "leaf-section"},
        "/leaf/page": {"page.key": 2},
    }
    r = resolve("/leaf/page", config)
    assert r.config["global.key"] == "global"
    assert r.config["root.key"] == "root"
    assert r.config["slash.key"] == 1
    assert r.config["shared"] == "leaf-section"
    assert r.config["page.key"] == 2
    assert r.config["handler.key"] == "handler"


def test_find_caches_per_path_and_bounds_the_cache(monkeypatch: Any) -> None:
    app = Application(Root(), "")
    d = dispatch.Dispatcher()
    first = dispatch.find(d, app, "/leaf/page", {})
    assert dispatch.find(d, app, "/leaf/page", {}) is first
    monkeypatch.setattr(dispatch, "CACHE_LIMIT", 3)
    for i in range(5):
        dispatch.find(d, app, f"/other/{i}", {})
    assert len(app.dispatch_cache) <= 3
    app.merge({"/": {"x": 1}})
    assert app.dispatch_cache == {}


def test_cached_resolution_follows_cp_config_changed_at_run_time() -> None:
    """CherryPy reads ``_cp_config`` on every request; the cache must not hide a change
    a handler or tool makes while the server runs (CherryPy's test_session does)."""

    class Changing:
        _cp_config = {"mode": "a"}

        @cherrypy.expose
        def index(self) -> str:
            return "x"

    root = Changing()
    app = Application(root, "")
    d = dispatch.Dispatcher()
    first = dispatch.find(d, app, "/", {})
    assert first.config["mode"] == "a"
    assert dispatch.find(d, app, "/", {}) is first
    Changing._cp_config["mode"] = "b"
    second = dispatch.find(d, app, "/", {})
    assert second is not first and second.config["mode"] == "b"
    Changing._cp_config = {"mode": "c"}
    assert dispatch.find(d, app, "/", {}).config["mode"] == "c"
    # A _cp_config added to an object that had none is not watched (documented in
    # docs/compatibility.md): only dicts the resolution merged are.
