"""An application's WSGI middleware pipeline (CherryPy's ``Application.wsgiapp``).

``app.wsgiapp.pipeline`` is a list of ``(name, factory)``; ``app.wsgiapp.config[name]``
the keyword arguments of that factory. The ``wsgi`` config namespace of the application's
``[/]`` section fills both: ``wsgi.pipeline`` appends entries, ``wsgi.<name>.<arg>`` sets
an argument. The first entry is the outermost middleware, the application itself the
innermost. An application with a pipeline is served through the WSGI gateway (the
middleware sees every request); without one, the native path is unchanged.
"""

from __future__ import annotations

from typing import Any, Callable

WSGICallable = Callable[[dict[str, Any], Callable[..., Any]], Any]


class WSGIPipeline:
    """The WSGI entry of one application, wrapped by its middleware (built once, at
    the first request after the pipeline or its config last changed)."""

    def __init__(self, inner: WSGICallable) -> None:
        #: ``(name, factory)`` pairs; ``factory(app, **config[name])`` is a WSGI app.
        self.pipeline: list[tuple[str, Callable[..., WSGICallable]]] = []
        #: Keyword arguments by pipeline name.
        self.config: dict[str, dict[str, Any]] = {}
        self.inner = inner
        self.head: WSGICallable | None = None
        self._built_from: Any = None

    def _state(self) -> Any:
        return (
            tuple((name, id(factory)) for name, factory in self.pipeline),
            repr(sorted((k, sorted(v.items(), key=repr)) for k, v in self.config.items())),
        )

    def namespace_handler(self, key: str, value: Any) -> None:
        """The ``wsgi`` config namespace: ``pipeline`` or ``<name>.<argument>``."""
        if key == "pipeline":
            for entry in value or ():
                try:
                    name, factory = entry
                except (TypeError, ValueError):
                    raise ValueError(
                        f"wsgi.pipeline: each entry must be a (name, middleware factory) "
                        f"pair, not {entry!r}"
                    ) from None
                if not callable(factory):
                    raise ValueError(f"wsgi.pipeline: {name!r}: {factory!r} is not callable")
                if (name, factory) not in self.pipeline:
                    self.pipeline.append((name, factory))
            return
        name, dot, argument = key.partition(".")
        if not dot or not argument:
            raise ValueError(
                f"wsgi.{key}: the wsgi namespace takes 'pipeline' or '<name>.<argument>' "
                "(an argument of the pipeline entry <name>)"
            )
        self.config.setdefault(name, {})[argument] = value

    def build(self) -> WSGICallable:
        """The outermost WSGI callable: each factory wraps the next, the last wraps
        the application."""
        state = self._state()
        if self.head is None or state != self._built_from:
            head = self.inner
            for name, factory in reversed(self.pipeline):
                head = factory(head, **self.config.get(name, {}))
            self.head, self._built_from = head, state
        return self.head

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.build()(environ, start_response)
