"""The request context: which request and response the current code is serving.

A leaf module (it imports nothing from the package), so every other module may import
it at the top. ``cherrypy_rs.request`` and ``cherrypy_rs.response`` are proxies over
one ``ContextVar`` holding the current ``(Request, Response)`` pair (Flask's
``globals.py`` pattern); ``cherrypy_rs.serving`` is this module, and
``cherrypy.serving.request`` / ``.response`` work as in CherryPy.

``site`` holds the process-wide objects (config, server, tree, engine, log) that request
time code needs; the package fills it in when it creates them, which keeps the modules
that read them free of an import of the package itself.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .objects import Request, Response

_current: ContextVar[tuple[Request, Response] | None] = ContextVar(
    "cherrypy_rs.serving", default=None
)

_OUTSIDE = (
    "cherrypy.{} is only available while a request is being handled (inside a page "
    "handler or a tool); this code ran outside of one."
)


class _Site:
    """The process-wide objects, set by ``cherrypy_rs/__init__.py`` at import."""

    config: Any = None
    server: Any = None
    tree: Any = None
    engine: Any = None
    log: Any = None
    checker: Any = None
    #: ``cherrypy.quickstart``, for the library's own small servers (profiler, covercp).
    quickstart: Any = None


#: The process-wide objects (``cherrypy.config``, ``server``, ``tree``, ``engine``, ``log``).
site = _Site()


def request_or_none() -> Request | None:
    """The current request, or None outside of a request."""
    pair = _current.get()
    return pair[0] if pair is not None else None


def response_or_none() -> Response | None:
    """The current response, or None outside of a request."""
    pair = _current.get()
    return pair[1] if pair is not None else None


def request_or_raise() -> Request:
    """The current request; RuntimeError outside of a request."""
    pair = _current.get()
    if pair is None:
        raise RuntimeError(_OUTSIDE.format("request"))
    return pair[0]


def outside_request() -> NoReturn:
    """Raise the RuntimeError of code that needs a request and runs outside of one (for
    hot paths that read the request/response pair themselves:
    ``request, response = _current.get() or outside_request()``)."""
    raise RuntimeError(_OUTSIDE.format("request"))


def response_or_raise() -> Response:
    """The current response; RuntimeError outside of a request."""
    pair = _current.get()
    if pair is None:
        raise RuntimeError(_OUTSIDE.format("response"))
    return pair[1]


def load(request: Request, response: Response) -> None:
    """Make ``request``/``response`` the current pair (``cherrypy.serving.load``)."""
    _current.set((request, response))


def clear() -> None:
    """Forget the current pair (``cherrypy.serving.clear``)."""
    _current.set(None)


def __getattr__(name: str) -> Any:
    """``cherrypy.serving.request`` / ``.response`` (and ``.session`` when sessions are
    on), as CherryPy's tools use them."""
    if name == "request":
        return request_or_raise()
    if name == "response":
        return response_or_raise()
    if name == "session":
        session = request_or_raise().__dict__.get("_session")
        if session is not None:
            return session
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _ContextProxy:
    """``cherrypy.request`` / ``cherrypy.response``: forwards to the current object."""

    __slots__ = ("_index", "_name")

    def __init__(self, index: int, name: str) -> None:
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_name", name)

    def _target(self) -> Any:
        pair = _current.get()
        if pair is None:
            raise RuntimeError(_OUTSIDE.format(object.__getattribute__(self, "_name")))
        return pair[object.__getattribute__(self, "_index")]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._target(), name)

    def __repr__(self) -> str:
        pair = _current.get()
        name = object.__getattribute__(self, "_name")
        if pair is None:
            return f"<cherrypy.{name} (no request in progress)>"
        return repr(pair[object.__getattribute__(self, "_index")])

    def __bool__(self) -> bool:
        return _current.get() is not None
