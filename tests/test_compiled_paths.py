"""Paths whose hooks are compiled once (pathconfig.PathConfig.point_hooks) behave as
CherryPy's per-request ``_setup()`` does, through a real socket: hooks a handler
attaches, custom tools that override ``_setup`` (not compiled), equal priorities in
config order, ``request.toolmaps``, ``tools.log_hooks``, and ``tools.sessions`` (its
compiled ``init`` gives the same cookies as the per-request one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs.lib import sessions
from cherrypy_rs.testing import serve
from cherrypy_rs.toolbox import Tool

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    EVENTS.clear()
    before = set(vars(cherrypy.tools))
    yield
    for name in set(vars(cherrypy.tools)) - before:
        delattr(cherrypy.tools, name)


def record(label: str = "tool") -> None:
    EVENTS.append(label)


def compiled(live: Any, path: str) -> Any:
    """The PathConfig of ``path`` (after a request to it)."""
    app = live.tree.apps[""]
    return app.dispatch_cache[path].compiled


class Root:
    @cherrypy.expose
    def index(self) -> str:
        hooks = cherrypy.request.hooks
        hooks.attach("before_finalize", lambda: record("attached"), priority=10)
        hooks.attach("on_end_request", lambda: record("end"))
        return "ok"

    @cherrypy.expose
    def toolmaps(self) -> str:
        maps = cherrypy.request.toolmaps
        args = maps["tools"]["mark"]
        out = f"{sorted(args.items())}"
        args["label"] = "changed by the handler"
        return out


def test_a_handler_attaching_hooks_on_a_compiled_path() -> None:
    cherrypy.tools.mark = Tool("on_start_resource", record)
    config = {"/": {"tools.mark.on": True, "tools.mark.label": "start"}}
    with serve(Root(), "", config) as live:
        for _ in range(2):
            EVENTS.clear()
            assert live.get("/")[2] == b"ok"
            assert EVENTS == ["start", "attached", "end"]
        assert compiled(live, "/").point_hooks is not None


def test_toolmaps_are_per_request_copies_of_the_paths() -> None:
    cherrypy.tools.mark = Tool("on_start_resource", record)
    config = {"/": {"tools.mark.on": True, "tools.mark.label": "start"}}
    with serve(Root(), "", config) as live:
        for _ in range(2):
            assert live.get("/toolmaps")[2] == b"[('label', 'start'), ('on', True)]"


def test_equal_priorities_keep_config_order_bare_hooks_first() -> None:
    cherrypy.tools.first = Tool("before_handler", lambda: record("first"))
    cherrypy.tools.second = Tool("before_handler", lambda: record("second"))
    cherrypy.tools.early = Tool("before_handler", lambda: record("early"), priority=10)
    config = {
        "/": {
            "tools.second.on": True,
            "tools.first.on": True,
            "tools.early.on": True,
            "hooks.before_handler": lambda: record("bare"),
        }
    }

    class Plain:
        @cherrypy.expose
        def index(self) -> str:
            return "ok"

    with serve(Plain(), "", config) as live:
        for _ in range(2):
            EVENTS.clear()
            assert live.get("/")[2] == b"ok"
            assert EVENTS == ["early", "bare", "second", "first"]


class HeaderTool(Tool):
    """A custom tool as CherryPy's docs write one: its own ``_setup`` decides per
    request (here from a request header) what to attach."""

    def __init__(self) -> None:
        super().__init__("before_finalize", self.stamp)

    def stamp(self, value: str = "default") -> None:
        cherrypy.response.headers["X-Stamp"] = value

    def _setup(self) -> None:
        conf = self._merged_args()
        if cherrypy.request.headers.get("X-Skip"):
            return
        cherrypy.request.hooks.attach(self._point, self.callable, **conf)


def test_a_custom_tool_overriding_setup_runs_it_for_each_request() -> None:
    cherrypy.tools.stamp = HeaderTool()
    config = {"/": {"tools.stamp.on": True, "tools.stamp.value": "v"}}

    class Plain:
        @cherrypy.expose
        def index(self) -> str:
            return "ok"

    with serve(Plain(), "", config) as live:
        assert live.get("/")[1]["X-Stamp"] == "v"
        assert live.get("/", headers={"X-Skip": "1"})[1]["X-Stamp"] is None
        assert live.get("/")[1]["X-Stamp"] == "v"
        pc = compiled(live, "/")
        assert pc.point_hooks is None and cherrypy.tools.stamp in pc.plan


def test_log_hooks_shows_the_sessions_init_hook_as_a_plain_hook() -> None:
    class Plain:
        @cherrypy.expose
        def index(self) -> str:
            cherrypy.session["x"] = 1
            return "ok"

    config = {"/": {"tools.sessions.on": True, "tools.sessions.timeout": 5}}
    with serve(Plain(), "", config) as live:
        assert live.get("/")[0] == 200
        pc = compiled(live, "/")
        (init_hook,) = pc.point_hooks["before_request_body"]
        assert init_hook.callback is sessions.init
        assert init_hook.kwargs == {"timeout": 5}
        assert repr(init_hook).startswith("cherrypy_rs.hooks.Hook(callback=<function init")


class GenericSessions(sessions.SessionTool):
    """The same tool with an overridden ``_setup``: its path is not compiled, so
    each request runs ``_setup`` and ``init`` as before."""

    def _setup(self) -> None:
        super()._setup()


class Counter:
    @cherrypy.expose
    def index(self) -> str:
        n = cherrypy.session.get("n", 0) + 1
        cherrypy.session["n"] = n
        return str(n)

    @cherrypy.expose
    def cookie(self) -> str:
        return repr(sorted(cherrypy.response.cookie["sid"].items()))


SESSION_CASES = [
    {},
    {"path": "/app", "domain": "example.com", "secure": True, "httponly": True},
    {"samesite": "Lax", "persistent": False},
    {"samesite": "none", "secure": True},
    {"path_header": "X-Path"},
    {"name": "odd name"},  # not a legal cookie key: CookieError, as CherryPy
]


def set_cookie_of(live: Any, path: str, cookie: str | None = None) -> tuple[int, str | None]:
    headers = {"X-Path": "/from-header"}
    if cookie is not None:
        headers["Cookie"] = cookie
    status, h, _body = live.get(path, headers=headers)
    return status, h.get("Set-Cookie")


def normalize(set_cookie: str | None) -> str | None:
    """The Set-Cookie text with the session id and the expiry date masked."""
    if set_cookie is None:
        return None
    parts = set_cookie.split("; ")
    name = parts[0].split("=", 1)[0]
    rest = [p if not p.startswith("expires=") else "expires=…" for p in parts[1:]]
    return "; ".join([f"{name}=…", *rest])


@pytest.mark.parametrize("options", SESSION_CASES, ids=repr)
def test_compiled_sessions_set_the_cookie_the_generic_path_sets(options: dict[str, Any]) -> None:
    name = options.get("name", "sid")
    base = {"tools.sessions.name": name, **{f"tools.sessions.{k}": v for k, v in options.items()}}
    cherrypy.tools.generic_sessions = GenericSessions()
    config = {
        "/fast": {"tools.sessions.on": True, **base},
        "/slow": {
            "tools.generic_sessions.on": True,
            **{k.replace("tools.sessions.", "tools.generic_sessions."): v for k, v in base.items()},
        },
    }

    class App:
        fast = Counter()
        slow = Counter()

    with serve(App(), "", config) as live:
        fast = set_cookie_of(live, "/fast/")
        slow = set_cookie_of(live, "/slow/")
        assert fast[0] == slow[0]
        assert normalize(fast[1]) == normalize(slow[1])
        assert compiled(live, "/fast/").point_hooks is not None
        assert compiled(live, "/slow/").point_hooks is None
        if fast[0] != 200:
            return
        assert fast[1] is not None
        sid = fast[1].split(";")[0].split("=", 1)[1]
        # The id the client sends back is adopted, and the counter goes on.
        status, _h, body = live.get("/fast/", headers={"Cookie": f"{name}={sid}"})
        assert (status, body) == (200, b"2")
        # A header SimpleCookie reads its own way (a quoted value): the same id.
        status, _h, body = live.get("/fast/", headers={"Cookie": f'{name}="{sid}"; x=1'})
        assert (status, body) == (200, b"3")
