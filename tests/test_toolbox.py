"""The tool machinery and the hook points (cherrypy_rs/toolbox.py, hooks.py,
pathconfig.py, handler.py), through a real socket: custom tools written the way
CherryPy's documentation teaches, hooks from config and from handlers, priorities,
failsafe hooks, error hooks, and the fast path that builds no hook map."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs.hooks import Hook, HookMap
from cherrypy_rs.testing import serve
from cherrypy_rs.toolbox import ErrorTool, HandlerTool, HandlerWrapperTool, Tool, Toolbox

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    EVENTS.clear()
    before = set(vars(cherrypy.tools))
    yield
    for name in set(vars(cherrypy.tools)) - before:
        delattr(cherrypy.tools, name)


def record(name: str) -> None:
    EVENTS.append(name)


# A custom tool as CherryPy's docs write one: a function, then Tool(point, function).
def add_header(name: str = "X-Tool", value: str = "on") -> None:
    cherrypy.response.headers[name] = value


def test_custom_tool_from_config_decorator_and_arguments() -> None:
    cherrypy.tools.add_header = Tool("before_finalize", add_header)

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            return "plain"

        @cherrypy.expose
        @cherrypy.tools.add_header(value="decorated")
        def deco(self) -> str:
            return "deco"

        @cherrypy.expose
        def conf(self) -> str:
            return "conf"

    config = {"/conf": {"tools.add_header.on": True, "tools.add_header.name": "X-Conf"}}
    with serve(Root(), "", config) as live:
        status, headers, body = live.get("/")
        assert (status, headers["X-Tool"], body) == (200, None, b"plain")
        status, headers, _ = live.get("/deco")
        assert (status, headers["X-Tool"]) == (200, "decorated")
        status, headers, _ = live.get("/conf")
        assert (status, headers["X-Conf"], headers["X-Tool"]) == (200, "on", None)


def test_tool_decorator_refuses_positional_arguments() -> None:
    tool = Tool("before_handler", add_header, name="add_header")
    with pytest.raises(TypeError, match="does not accept positional arguments"):
        tool("X")
    with pytest.raises(AttributeError, match=r"tools.<name>.on"):
        _ = tool.on


def test_register_decorator_and_priorities() -> None:
    @cherrypy.tools.register("before_handler", priority=80)
    def late() -> None:
        record("late")

    @cherrypy.tools.register("before_handler", priority=10)
    def early() -> None:
        record("early")

    class Root:
        @cherrypy.expose
        @cherrypy.tools.late()
        @cherrypy.tools.early()
        def index(self) -> str:
            record("handler")
            return "ok"

    with serve(Root()) as live:
        assert live.get("/")[0] == 200
    assert EVENTS == ["early", "late", "handler"]


def test_hook_points_run_in_cherrypy_order() -> None:
    points = [
        "on_start_resource",
        "before_request_body",
        "before_handler",
        "before_finalize",
        "on_end_resource",
        "on_end_request",
    ]
    config = {"/": {f"hooks.{p}": (lambda p=p: record(p)) for p in points}}

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            record("handler")
            return "ok"

    with serve(Root(), "", config) as live:
        assert live.get("/")[2] == b"ok"
    assert EVENTS == [*points[:3], "handler", *points[3:]]


def test_hooks_attached_by_the_handler_and_failsafe() -> None:
    def boom() -> None:
        record("boom")
        raise ValueError("hook failed")

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            hooks = cherrypy.request.hooks
            hooks.attach("before_finalize", boom, priority=10)
            hooks.attach("before_finalize", lambda: record("skipped"), priority=20)
            hooks.attach("before_finalize", lambda: record("failsafe"), failsafe=True, priority=30)
            hooks.attach("on_end_request", lambda: record("end"))
            return "ok"

    with serve(Root()) as live:
        assert live.get("/")[0] == 500
    assert EVENTS == ["boom", "failsafe", "end"]


def test_error_hooks_and_error_tool() -> None:
    def custom_500(text: str = "custom") -> None:
        cherrypy.response.status = 500
        cherrypy.response.body = text.encode()

    cherrypy.tools.my_error = ErrorTool(custom_500)
    config = {
        "/": {
            "hooks.before_error_response": lambda: record("before"),
            "hooks.after_error_response": lambda: record("after"),
            "tools.my_error.on": True,
            "tools.my_error.text": "handled",
        }
    }

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            raise RuntimeError("handler failed")

    with serve(Root(), "", config) as live:
        status, _, body = live.get("/")
    assert (status, body) == (500, b"handled")
    assert EVENTS == ["before", "after"]


def test_handler_tool_answers_or_falls_through() -> None:
    def maybe(answer: bool = True) -> bool:
        if answer:
            cherrypy.response.body = b"from the tool"
        return answer

    cherrypy.tools.maybe = HandlerTool(maybe)

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            return "from the handler"

        tool_page = cherrypy.tools.maybe.handler(answer=True)
        missing = cherrypy.tools.maybe.handler(answer=False)

    config = {"/": {"tools.maybe.on": True}}
    with serve(Root(), "", config) as live:
        assert live.get("/")[2] == b"from the tool"
    config = {"/": {"tools.maybe.on": True, "tools.maybe.answer": False}}
    with serve(Root(), "", config) as live:
        assert live.get("/")[2] == b"from the handler"
    with serve(Root()) as live:
        assert live.get("/tool_page")[2] == b"from the tool"
        assert live.get("/missing")[0] == 404


def test_handler_wrapper_tool_renders_the_inner_result() -> None:
    def as_json(next_handler: Any, *args: Any, **kwargs: Any) -> bytes:
        cherrypy.response.headers["Content-Type"] = "application/json"
        return json.dumps(next_handler(*args, **kwargs)).encode()

    cherrypy.tools.as_json = HandlerWrapperTool(as_json)

    class Root:
        @cherrypy.expose
        @cherrypy.tools.as_json()
        def data(self, n: str = "1") -> dict[str, int]:
            return {"n": int(n)}

    with serve(Root()) as live:
        status, headers, body = live.get("/data?n=7")
    assert (status, headers["Content-Type"], json.loads(body)) == (
        200,
        "application/json",
        {"n": 7},
    )


def test_namespaced_toolbox_of_an_application() -> None:
    box = Toolbox("mytools")
    box.stamp = Tool("before_finalize", add_header)

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            return "ok"

    app = cherrypy.Application(Root(), "", {"/": {"mytools.stamp.on": True}})
    app.toolboxes = {"tools": cherrypy.tools, "mytools": box}
    with serve(app) as live:
        assert live.get("/")[1]["X-Tool"] == "on"


def test_a_path_without_tools_builds_no_hook_map() -> None:
    seen: list[bool] = []

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            seen.append("hooks" in vars(cherrypy.serving.request))
            return "ok"

    with serve(Root()) as live:
        assert live.get("/")[2] == b"ok"
    assert seen == [False]


def test_default_tools_still_work_through_the_hooks() -> None:
    """With another tool on, encode and trailing_slash run as hooks, same results."""
    cherrypy.tools.noop = Tool("before_handler", lambda: None)

    class Sub:
        @cherrypy.expose
        def index(self) -> str:
            return "sub index ☃"

    class Root:
        sub = Sub()

    with serve(Root(), "", {"/": {"tools.noop.on": True}}) as live:
        status, headers, _ = live.get("/sub")
        assert (status, headers["Location"].endswith("/sub/")) == (301, True)
        status, headers, body = live.get("/sub/")
        assert (status, body.decode()) == (200, "sub index ☃")
        assert headers["Content-Type"] == "text/html;charset=utf-8"


def test_hookmap_unit() -> None:
    hooks = HookMap(["a"])
    hooks.attach("a", lambda: record("x"), priority=70)
    hooks.attach("a", lambda: record("y"), priority=20)
    copy = hooks.copy()
    copy.attach("a", lambda: record("z"), priority=50)
    hooks.run("a")
    assert EVENTS == ["y", "x"]
    with pytest.raises(KeyError, match="not a hook point"):
        hooks.attach("nope", lambda: None)
    assert Hook(lambda: None, priority=3) < Hook(lambda: None)


def test_cp_config_changed_while_serving_is_seen() -> None:
    """A handler that changes its class's ``_cp_config`` changes the next request's
    config, tools included (as in CherryPy, which merges config per request)."""
    cherrypy.tools.add_header = Tool("before_finalize", add_header)

    class Root:
        _cp_config: dict[str, Any] = {}

        @cherrypy.expose
        def index(self) -> str:
            return "page"

        @cherrypy.expose
        def turn_on(self) -> str:
            Root._cp_config["tools.add_header.on"] = True
            Root._cp_config["tools.add_header.value"] = "now"
            return "on"

    with serve(Root()) as live:
        assert live.get("/")[1]["X-Tool"] is None
        assert live.get("/turn_on")[2] == b"on"
        assert live.get("/")[1]["X-Tool"] == "now"
