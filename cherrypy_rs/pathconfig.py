"""What a path's merged config asks of each request, compiled once per path.

CherryPy walks the merged config on every request, handing each key to its namespace
(``request.*`` and ``response.*`` set attributes, ``error_page.*`` fills
``request.error_page``, ``hooks.*`` attaches bare hooks, ``tools.*`` fills
``request.toolmaps`` and runs the ``_setup()`` of each tool that is on). Here that walk
happens once, when a path is first dispatched: the result is cached with the dispatch,
and a request only replays plain lists. The built-in tools that are on by default
(``encode``, ``trailing_slash``, ``log_tracebacks``, ``log_headers``), ``json_out``
and the static tools run inline while they are the toolbox's own objects, so a path
with no other tool and no hook never touches the hook machinery (``needs_hooks`` is
False). A tool whose ``_setup()`` only attaches hooks that config alone decides
(``Tool``, ``HandlerTool``, ``SessionTool``... see ``Tool._plan_hooks``) has those hooks
built here once; when every tool of the path is such a tool, the hooks of each point
are also ordered here once (``point_hooks``) and a request starts from a copy of them
instead of running the tools' ``_setup()``. A path whose only other tool is
``tools.sessions`` (the toolbox's own, with hooks config decides) keeps the fast path
too: its session hooks run inline at their points (``fast_session``), and join a
hook map only if the request makes one (a handler attaching a hook).
"""

from __future__ import annotations

from typing import Any, Callable

from ._config import Config
from .default_tools import INLINE, tools
from .hooks import Hook, hookpoints
from .toolbox import Tool, Toolbox

#: Request-level namespaces handled here; others are the application's or the
#: process's (server, engine, log, checker, wsgi...), applied elsewhere.
_BUILTIN = ("request", "response", "error_page", "hooks")


class PathConfig:
    """The per-request work a path's config asks for, as plain lists."""

    __slots__ = (
        "all_setups",
        "body_attrs",
        "custom",
        "encode",
        "error_pages",
        "fast_session",
        "has_attributes",
        "hooks",
        "json_out",
        "log_headers",
        "log_tracebacks",
        "needs_hooks",
        "plain",
        "plan",
        "point_hooks",
        "quick",
        "quick_path",
        "request_attrs",
        "response_attrs",
        "response_headers",
        "setups",
        "static",
        "toolmaps",
        "trailing_slash",
    )

    def __init__(self) -> None:
        self.request_attrs: list[tuple[str, Any]] = []
        self.body_attrs: list[tuple[str, Any]] = []
        self.response_attrs: list[tuple[str, Any]] = []
        self.response_headers: list[tuple[str, Any]] = []
        self.error_pages: dict[Any, Any] = {}
        #: {toolbox namespace: {tool name: {arg: value}}}, as ``request.toolmaps``.
        self.toolmaps: dict[str, dict[str, dict[str, Any]]] = {}
        #: Tools (on) that are not run inline: their ``_setup()`` runs per request.
        self.setups: list[Any] = []
        #: Every tool that is on, inline ones included, in config order: what runs
        #: ``_setup()`` once the path needs the hook machinery anyway.
        self.all_setups: list[Any] = []
        #: ``all_setups`` as each request replays it: a tool whose hooks config alone
        #: decides (``Tool._plan_hooks``) as the ``(point, Hook)`` pairs its
        #: ``_setup()`` would attach, built once here; any other tool as itself (its
        #: ``_setup()`` runs).
        self.plan: list[Any] = []
        #: When no tool of the path needs its ``_setup()`` run per request and no
        #: application namespace is set: every hook point's hooks (bare hooks, then
        #: the tools', in config order) sorted by priority as ``HookMap.run`` would,
        #: as tuples. None otherwise.
        self.point_hooks: dict[str, tuple[Hook, ...]] | None = None
        #: Bare hooks from ``hooks.<point>`` keys.
        self.hooks: list[tuple[str, Hook]] = []
        #: Request-level namespaces added by the application: (handler, [(key, value)]).
        self.custom: list[tuple[Any, list[tuple[str, Any]]]] = []
        #: Arguments of the inline built-in tools, None when off.
        self.trailing_slash: dict[str, Any] | None = None
        self.encode: dict[str, Any] | None = None
        self.json_out: dict[str, Any] | None = None
        self.log_tracebacks: dict[str, Any] | None = None
        self.log_headers: dict[str, Any] | None = None
        #: ("staticdir" | "staticfile", arguments) when one of them is on.
        self.static: tuple[str, dict[str, Any]] | None = None
        self.needs_hooks = False
        #: The session fast path (see ``FastSession``), or None.
        self.fast_session: FastSession | None = None
        #: Whether any request/response attribute, header or error page is set.
        self.has_attributes = False
        #: For a path the request handler runs without the checks config rules out:
        #: what a request's ``__dict__`` starts with (see ``handler._plain_state``);
        #: None otherwise (set by the request handler once compiled).
        self.plain: dict[str, Any] | None = None
        #: ``plain`` when the path's requests without a query string or a body take
        #: the quick path (see ``handler._quick_state``), for ``quick_path``.
        self.quick: dict[str, Any] | None = None
        self.quick_path: str | None = None


class FastSession:
    """``tools.sessions``' hooks on a path where it is the only tool that needs hooks,
    by the point they run at, each tuple in the order ``HookMap.run`` would sort it:
    ``before_request_body`` (``init``, then the lock with ``locking = "early"``),
    ``before_handler`` (the lock with ``locking = "implicit"``, priority 50: after
    ``json_out`` at 30, before ``trailing_slash`` at 60 and ``encode`` at 70), and
    ``later``: the points after the handler (``before_finalize``, ``on_end_resource``,
    ``on_end_request``), copied into each request as its ``_planned`` hooks."""

    __slots__ = ("before_handler", "before_request_body", "later")

    #: The points the fast path runs a session's hooks at.
    POINTS = frozenset(
        (
            "before_request_body",
            "before_handler",
            "before_finalize",
            "on_end_resource",
            "on_end_request",
        )
    )

    def __init__(self, planned: list[tuple[str, Hook]]) -> None:
        by_point: dict[str, list[Hook]] = {}
        for point, hook in planned:
            by_point.setdefault(point, []).append(hook)
        ordered = {point: tuple(sorted(hooks)) for point, hooks in by_point.items()}
        self.before_request_body = ordered.pop("before_request_body", ())
        self.before_handler = ordered.pop("before_handler", ())
        self.later = ordered

    @classmethod
    def plan(cls, pc: PathConfig, planned: list[tuple[str, Hook]] | None) -> FastSession | None:
        """The fast path for ``pc`` if ``tools.sessions`` (``planned``: its hooks) is
        the path's only tool that is not inline, else None."""
        if (
            planned is None
            or pc.setups != [getattr(tools, "sessions", None)]
            or pc.hooks
            or pc.custom
            or pc.static is not None
            or not {point for point, _ in planned} <= cls.POINTS
        ):
            return None
        # init's arguments must have been worked out once (else init raises per request,
        # through the hook machinery's error handling).
        if not any(getattr(hook, "settings", None) is not None for _, hook in planned):
            return None
        return cls(planned)


def toolboxes_of(app: Any) -> dict[str, Toolbox]:
    """The application's toolboxes by namespace (``tools`` is the default one)."""
    boxes = getattr(app, "toolboxes", None)
    if not boxes:
        return {"tools": tools}
    return boxes


def compile_path(
    config: dict[str, Any],
    toolboxes: dict[str, Toolbox],
    request_namespaces: dict[str, Callable[..., Any]] | None = None,
) -> PathConfig:
    """Compile a path's merged ``config`` (see the module docstring)."""
    pc = PathConfig()
    custom: dict[str, list[tuple[str, Any]]] = {}
    session_hooks: list[tuple[str, Hook]] | None = None
    if any(key not in config for key in Config.defaults):
        # A global config without CherryPy's defaults (a bare dict): they still apply.
        config = {**Config.defaults, **config}
    for key, value in config.items():
        namespace, dot, rest = key.partition(".")
        if not dot:
            continue
        if namespace == "request":
            if rest.startswith("body."):
                pc.body_attrs.append((rest[5:], value))
            else:
                pc.request_attrs.append((rest, value))
        elif namespace == "response":
            if rest.startswith("headers."):
                pc.response_headers.append((rest[8:], value))
            else:
                pc.response_attrs.append((rest, value))
        elif namespace == "error_page":
            pc.error_pages[int(rest) if rest.isdigit() else rest] = value
        elif namespace == "hooks":
            point = rest.split(".", 1)[0]
            pc.hooks.append((point, value if isinstance(value, Hook) else Hook(value)))
        elif namespace in toolboxes:
            toolname, dot, arg = rest.partition(".")
            if dot:
                pc.toolmaps.setdefault(namespace, {}).setdefault(toolname, {})[arg] = value
        elif request_namespaces and namespace in request_namespaces:
            custom.setdefault(namespace, []).append((rest, value))
    for namespace, toolmap in pc.toolmaps.items():
        box = toolboxes[namespace]
        for name, args in toolmap.items():
            if not args.get("on", False):
                continue
            tool = getattr(box, name, None)
            if tool is None:
                # The config checker refuses unknown tools at start; a tool removed
                # from its toolbox since then is an error here too.
                raise AttributeError(f"{namespace}.{name}: there is no such tool")
            pc.all_setups.append(tool)
            planned = tool._plan_hooks(pc.toolmaps) if isinstance(tool, Tool) else None
            if tool is getattr(tools, "sessions", None):
                session_hooks = planned
            if planned is None:
                pc.plan.append(tool)
            else:
                pc.plan.extend(planned)
            # An inline tool given its own priority runs as a hook (where it belongs).
            if box is tools and INLINE.get(name) is tool and "priority" not in args:
                _inline(pc, name, args)
            else:
                pc.setups.append(tool)
    pc.custom = [(request_namespaces[ns], items) for ns, items in custom.items()]  # type: ignore[index]
    pc.needs_hooks = bool(pc.setups or pc.hooks or pc.custom)
    if pc.needs_hooks:
        pc.fast_session = FastSession.plan(pc, session_hooks)
    if pc.needs_hooks and not pc.custom and all(step.__class__ is tuple for step in pc.plan):
        by_point: dict[str, list[Hook]] = {}
        for point, hook in [*pc.hooks, *pc.plan]:
            by_point.setdefault(point, []).append(hook)
        # An unknown point, or priorities that do not compare: the request's attach
        # or run raises, as in CherryPy.
        if by_point.keys() <= set(hookpoints):
            try:
                # Stable, as HookMap.run's sort: equal priorities keep the attach order.
                pc.point_hooks = {
                    point: tuple(sorted(by_point.get(point, ()))) for point in hookpoints
                }
            except TypeError:
                pc.point_hooks = None
    pc.has_attributes = bool(
        pc.request_attrs
        or pc.response_attrs
        or pc.response_headers
        or pc.error_pages
        or pc.body_attrs
    )
    return pc


def _inline(pc: PathConfig, name: str, args: dict[str, Any]) -> None:
    kwargs = {k: v for k, v in args.items() if k not in ("on", "priority", "debug")}
    if name in ("staticdir", "staticfile"):
        if pc.static is None:
            pc.static = (name, kwargs)
    else:
        setattr(pc, name, kwargs)
