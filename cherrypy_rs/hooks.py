"""Hook points of the request (``cherrypy._cprequest.Hook`` / ``HookMap``).

A request runs its hooks at eight points, in this order: ``on_start_resource``,
``before_request_body``, ``before_handler``, ``before_finalize``, ``on_end_resource``,
``on_end_request`` — and ``before_error_response`` / ``after_error_response`` around
the error response. At each point hooks run by ascending ``priority`` (0-100, default
50); when one raises, the remaining ``failsafe`` hooks of that point still run, then the
error propagates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Callable

from . import context
from .errors import HTTPError, HTTPRedirect, InternalRedirect

#: The hook points, in the order a request reaches them.
hookpoints = [
    "on_start_resource",
    "before_request_body",
    "before_handler",
    "before_finalize",
    "on_end_resource",
    "on_end_request",
    "before_error_response",
    "after_error_response",
]

#: What a failing hook raises without its traceback being logged.
QUIET_ERRORS = (HTTPError, HTTPRedirect, InternalRedirect)
_QUIET = QUIET_ERRORS


def log_hook_error() -> None:
    """Log the exception being handled (a hook failed) with its traceback."""
    log = context.site.log
    if log is not None:
        log.error(traceback=True, severity=40)


class Hook:
    """A callback with its ``failsafe`` flag, ``priority`` and keyword arguments."""

    callback: Callable[..., Any] | None = None
    failsafe = False
    priority: float = 50
    kwargs: dict[str, Any] = {}

    def __init__(
        self,
        callback: Callable[..., Any],
        failsafe: bool | None = None,
        priority: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.callback = callback
        self.failsafe = getattr(callback, "failsafe", False) if failsafe is None else failsafe
        self.priority = getattr(callback, "priority", 50) if priority is None else priority
        self.kwargs = kwargs

    def __lt__(self, other: Hook) -> bool:
        # Lower priority numbers run first.
        return self.priority < other.priority

    def __call__(self) -> Any:
        assert self.callback is not None
        return self.callback(**self.kwargs)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return (
            f"{type(self).__module__}.{type(self).__name__}(callback={self.callback!r}, "
            f"failsafe={self.failsafe!r}, priority={self.priority!r}, {args})"
        )


class HookMap(dict):  # type: ignore[type-arg]
    """Hook points → lists of ``Hook``; ``request.hooks`` is one per request."""

    #: Set by ``attach``: lets the request path skip an untouched class-level map.
    attached = False

    def __init__(self, points: Iterable[str] | None = None) -> None:
        super().__init__()
        for point in points or ():
            self[point] = []

    def attach(
        self,
        point: str,
        callback: Callable[..., Any],
        failsafe: bool | None = None,
        priority: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Add ``callback`` at ``point`` (called with ``kwargs``)."""
        try:
            hooks = self[point]
        except KeyError:
            raise KeyError(
                f"{point!r} is not a hook point; the hook points are {', '.join(hookpoints)}"
            ) from None
        hooks.append(Hook(callback, failsafe, priority, **kwargs))
        self.attached = True

    def run(self, point: str) -> None:
        """Run the hooks of ``point`` by priority (failsafe ones even after an error)."""
        hooks = self.get(point)
        if not hooks:
            return
        if len(hooks) == 1:
            self.run_sorted(hooks)
        else:
            self.run_hooks(iter(sorted(hooks)))

    @classmethod
    def run_sorted(cls, hooks: Sequence[Hook]) -> None:
        """Run ``hooks``, already in priority order, as ``run`` does."""
        if len(hooks) == 1:
            # Nothing to sort and no failsafe hook left to run after an error.
            hook = hooks[0]
            try:
                if hook.__class__ is Hook:
                    # Hook.__call__, without its frame.
                    hook.callback(**hook.kwargs)  # type: ignore[misc]
                else:
                    hook()
            except _QUIET:
                raise
            except Exception:
                log_hook_error()
                raise
            return
        cls.run_hooks(iter(hooks))

    @classmethod
    def run_hooks(cls, hooks: Any) -> None:
        """Run ``hooks`` (an iterator); after an error, only the failsafe ones that
        remain run, then the error propagates (logged unless it is an HTTP error or a
        redirect)."""
        for hook in hooks:
            try:
                if hook.__class__ is Hook:
                    hook.callback(**hook.kwargs)  # type: ignore[misc]
                else:
                    hook()
            except _QUIET:
                cls.run_hooks(h for h in hooks if h.failsafe)
                raise
            except Exception:
                log_hook_error()
                cls.run_hooks(h for h in hooks if h.failsafe)
                raise

    def copy(self) -> HookMap:
        """A map with copies of the lists (attaching to it leaves this one alone)."""
        new = type(self)()
        for point, hooks in self.items():
            new[point] = list(hooks)
        return new

    __copy__ = copy

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}(points={list(self)!r})"
