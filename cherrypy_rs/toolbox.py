"""Tools (``cherrypy._cptools``): callables attached to hook points when config turns
them on.

A ``Tool`` is turned on for a path by config (``tools.<name>.on = True``, its arguments
as ``tools.<name>.<arg>``, its ``priority``), by decorating a handler
(``@cherrypy.tools.<name>(arg=...)``, which only writes that config into the handler's
``_cp_config``), or, for a ``HandlerTool``, used as the handler itself
(``tools.staticdir.handler(...)``). For each request the tools that are on run their
``_setup()``, which attaches their callable to ``request.hooks``.

A ``Toolbox`` is a namespace of tools (``cherrypy.tools`` is the default one,
``tools.<name>`` keys); ``Application.toolboxes`` / ``register`` add others.
"""

from __future__ import annotations

import types
from typing import Any, Callable

from . import context
from .errors import NotFound
from .helper import expose
from .hooks import Hook

_ON_ERROR = (
    "Tool.on must not be set or read as an attribute: turn a tool on in config "
    "(tools.<name>.on = True) or with the decorator @tools.<name>()."
)


def _arg_names(func: Callable[..., Any]) -> list[str]:
    """The names of ``func``'s parameters (a class: those of its ``__init__``)."""
    target: Any = func
    if isinstance(target, type):
        target = target.__init__  # type: ignore[misc]
    elif not isinstance(target, (types.FunctionType, types.MethodType)):
        target = getattr(target, "__call__", target)  # noqa: B004 - callable objects
    names = _code_arg_names(target)
    if names is not None:
        return names
    # Lazy: inspect costs ~2.6 MiB per process; only tools written in other ways than
    # plain functions, methods and classes need it.
    import inspect

    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return []
    return [
        name
        for name, p in params.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _code_arg_names(target: Any) -> list[str] | None:
    """``_arg_names`` read off a plain function's (or bound method's) code object, as
    ``inspect.signature`` would give them; None for anything else (a wrapped function,
    a builtin...)."""
    bound = isinstance(target, types.MethodType)
    function = target.__func__ if bound else target
    if not isinstance(function, types.FunctionType) or hasattr(function, "__wrapped__"):
        return None
    code = function.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    skip = max(code.co_posonlyargcount, 1 if bound else 0)
    return [name for name in names[skip:] if name != "self"]


def accepts_any_keyword(func: Callable[..., Any]) -> bool:
    """Whether ``func`` takes ``**kwargs`` (then any tool argument is accepted)."""
    # Lazy: inspect costs ~2.6 MiB per process; only checking a tool's arguments needs it.
    import inspect

    target: Any = func.__init__ if inspect.isclass(func) else func
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is p.VAR_KEYWORD for p in params)


class Tool:
    """A callable run at a hook point when config turns it on for a path."""

    namespace = "tools"

    def __init__(
        self,
        point: str | None,
        callable: Callable[..., Any],
        name: str | None = None,
        priority: float = 50,
    ) -> None:
        self._point = point
        self.callable = callable
        self._name = name
        self._priority = priority
        self.__doc__ = getattr(callable, "__doc__", None)
        self._setargs()

    @property
    def on(self) -> Any:
        raise AttributeError(_ON_ERROR)

    @on.setter
    def on(self, value: Any) -> None:
        raise AttributeError(_ON_ERROR)

    def _setargs(self) -> None:
        """The callable's parameters become attributes (None), as in CherryPy, so that
        ``help(tools.X)`` and attribute completion show them."""
        for arg in _arg_names(self.callable):
            try:
                setattr(self, arg, None)
            except AttributeError:
                pass

    def arguments(self) -> tuple[set[str], bool]:
        """(the argument names config may give this tool, whether any name goes).

        A subclass with its own ``_setup`` or ``_merged_args`` may read any argument
        (CherryPy's docs write such tools): any name goes unless it says otherwise by
        overriding this method."""
        names = set(_arg_names(self.callable)) | {"on", "priority"}
        cls = type(self)
        if cls._setup not in _KNOWN_SETUPS or cls._merged_args is not Tool._merged_args:
            return names, True
        return names, accepts_any_keyword(self.callable)

    def _merged_args(self, d: dict[str, Any] | None = None) -> dict[str, Any]:
        """``d`` updated with this tool's config for the current request, minus ``on``."""
        return self._args_in(context.request_or_raise().toolmaps, d)

    def _args_in(
        self, toolmaps: dict[str, dict[str, Any]], d: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``_merged_args`` read from ``toolmaps`` (a request's, or a path's)."""
        conf = dict(d) if d else {}
        toolmap = toolmaps.get(self.namespace, {})
        if self._name in toolmap:
            conf.update(toolmap[self._name])
        conf.pop("on", None)
        return conf

    def _hook_args(self, toolmaps: dict[str, dict[str, Any]]) -> tuple[float, dict[str, Any]]:
        """(priority, keyword arguments) of the hook ``_setup`` attaches."""
        conf = self._args_in(toolmaps)
        priority = conf.pop("priority", None)
        if priority is None:
            priority = getattr(self.callable, "priority", self._priority)
        return priority, conf

    def _plan_hooks(self, toolmaps: dict[str, dict[str, Any]]) -> list[tuple[str, Hook]] | None:
        """What ``_setup()`` would attach for a path whose config gives ``toolmaps``
        (``request.toolmaps``), as ``(point, Hook)`` pairs built once for the path.

        None when that cannot be known before the request: a subclass with its own
        ``_setup`` or ``_merged_args`` (CherryPy's docs teach writing such tools), whose
        ``_setup()`` then runs for each request as in CherryPy. A subclass overriding
        ``_setup`` must override this method too for its path to be compiled.
        """
        cls = type(self)
        if cls._setup is not Tool._setup or cls._merged_args is not Tool._merged_args:
            return None
        if self._point is None:
            return None
        priority, conf = self._hook_args(toolmaps)
        return [(self._point, Hook(self.callable, priority=priority, **conf))]

    def __call__(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """``@tools.X(arg=...)``: turn the tool on for the decorated handler."""
        if args:
            raise TypeError(
                f"The {self._name!r} Tool does not accept positional arguments; you must "
                "use keyword arguments."
            )

        def tool_decorator(f: Any) -> Any:
            if not hasattr(f, "_cp_config"):
                f._cp_config = {}
            subspace = f"{self.namespace}.{self._name}."
            f._cp_config[subspace + "on"] = True
            for key, value in kwargs.items():
                f._cp_config[subspace + key] = value
            return f

        return tool_decorator

    def _setup(self) -> None:
        """Attach the callable to the current request's hooks (the tool is on)."""
        conf = self._merged_args()
        priority = conf.pop("priority", None)
        if priority is None:
            priority = getattr(self.callable, "priority", self._priority)
        assert self._point is not None
        context.request_or_raise().hooks.attach(
            self._point, self.callable, priority=priority, **conf
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.namespace}.{self._name} at {self._point}>"


class HandlerTool(Tool):
    """A tool run before the handler that may answer the request itself: when its
    callable returns True, the page handler is skipped. ``handler()`` makes a page
    handler of it (``nav = tools.staticdir.handler(section="/nav", dir="nav")``)."""

    def __init__(self, callable: Callable[..., Any], name: str | None = None) -> None:
        super().__init__("before_handler", callable, name)

    def handler(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """A page handler that runs this tool (404 when it does not answer)."""

        @expose
        def handle_func(*a: Any, **kw: Any) -> Any:
            handled = self.callable(*args, **self._merged_args(kwargs))
            if not handled:
                raise NotFound()
            return context.response_or_raise().body

        return handle_func

    def _wrapper(self, **kwargs: Any) -> None:
        if self.callable(**kwargs):
            context.request_or_raise().handler = None

    def _setup(self) -> None:
        conf = self._merged_args()
        priority = conf.pop("priority", None)
        if priority is None:
            priority = getattr(self.callable, "priority", self._priority)
        context.request_or_raise().hooks.attach(
            "before_handler", self._wrapper, priority=priority, **conf
        )

    def _plan_hooks(self, toolmaps: dict[str, dict[str, Any]]) -> list[tuple[str, Hook]] | None:
        cls = type(self)
        if cls._setup is not HandlerTool._setup or cls._merged_args is not Tool._merged_args:
            return None
        priority, conf = self._hook_args(toolmaps)
        return [("before_handler", Hook(self._wrapper, priority=priority, **conf))]


class HandlerWrapperTool(Tool):
    """A tool that wraps ``request.handler``: ``newhandler(next_handler, *args,
    **kwargs)`` returns the body (e.g. renders the dict the inner handler returns)."""

    def __init__(
        self,
        newhandler: Callable[..., Any],
        point: str = "before_handler",
        name: str | None = None,
        priority: float = 50,
    ) -> None:
        self.newhandler = newhandler
        self._point = point
        self._name = name
        self._priority = priority

    def callable(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        request = context.request_or_raise()
        inner = request.handler

        def wrap(*a: Any, **kw: Any) -> Any:
            return self.newhandler(inner, *a, **kw)

        request.handler = wrap

    def arguments(self) -> tuple[set[str], bool]:
        return {"on", "priority"}, True


class ErrorTool(Tool):
    """A tool that replaces ``request.error_response`` (the 500 page)."""

    def __init__(self, callable: Callable[..., Any], name: str | None = None) -> None:
        super().__init__(None, callable, name)

    def _wrapper(self) -> None:
        self.callable(**self._merged_args())

    def _setup(self) -> None:
        context.request_or_raise().error_response = self._wrapper


#: The ``_setup`` methods whose arguments are those of the tool's callable.
_KNOWN_SETUPS = (Tool._setup, HandlerTool._setup, ErrorTool._setup)


class Toolbox:
    """A namespace of tools (``cherrypy.tools``); also the config namespace handler
    for its keys (``<namespace>.<tool>.<arg>``)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Tool):
            if value._name is None:
                value._name = name
            value.namespace = self.namespace
        object.__setattr__(self, name, value)

    def __enter__(self) -> Callable[[str, Any], None]:
        """Start this toolbox's map in ``request.toolmaps``; returns the function that
        files ``<tool>.<arg>`` keys into it (CherryPy's namespace protocol)."""
        request = context.request_or_raise()
        toolmap: dict[str, dict[str, Any]] = {}
        request.toolmaps[self.namespace] = toolmap

        def populate(key: str, value: Any) -> None:
            toolname, arg = key.split(".", 1)
            toolmap.setdefault(toolname, {})[arg] = value

        return populate

    def __exit__(self, *exc: Any) -> None:
        """Run ``_setup()`` of each tool the map turns on."""
        toolmap = context.request_or_raise().toolmaps.get(self.namespace)
        for name, settings in (toolmap or {}).items():
            if settings.get("on", False):
                getattr(self, name)._setup()

    def register(self, point: str, **kwargs: Any) -> Callable[[Any], Any]:
        """A decorator that makes the function a tool at ``point`` in this toolbox
        (``@cherrypy.tools.register("before_finalize")``)."""

        def decorator(func: Any) -> Any:
            attr_name = kwargs.get("name", func.__name__)
            setattr(self, attr_name, Tool(point, func, **kwargs))
            return func

        return decorator

    def __repr__(self) -> str:
        return f"<Toolbox {self.namespace!r}>"
