"""Configuration (``cherrypy._cpconfig``): the global config, environments, application
config sections, and the ``@cherrypy.config(**kw)`` decorator.

Config comes as dicts, INI files (or open files) whose values are Python expressions
built by ``lib.reprconf.unrepr`` (never ``eval``), ``_cp_config`` attributes on classes
and handlers. Keys are namespaced ("server.socket_port", "log.screen",
"request.show_tracebacks"); each namespace may register a handler in
``config.namespaces`` that applies its keys to the matching object. A request's config
is merged in CherryPy's order: global, root ``_cp_config``, ``[/]``, then per node and
path section down to the handler (see ``dispatch.Dispatcher``). This module never
imports the Rust core.
"""

from __future__ import annotations

from typing import Any, Callable

from .lib.reprconf import Config as _ReprConfig
from .lib.reprconf import NamespaceSet, Parser

environments: dict[str, dict[str, Any]] = {
    "staging": {
        "engine.autoreload.on": False,
        "checker.on": False,
        "tools.log_headers.on": False,
        "request.show_tracebacks": False,
        "request.show_mismatched_params": False,
    },
    "production": {
        "engine.autoreload.on": False,
        "checker.on": False,
        "tools.log_headers.on": False,
        "request.show_tracebacks": False,
        "request.show_mismatched_params": False,
        "log.screen": False,
    },
    "embedded": {
        "engine.autoreload.on": False,
        "checker.on": False,
        "tools.log_headers.on": False,
        "request.show_tracebacks": False,
        "request.show_mismatched_params": False,
        "log.screen": False,
        "engine.SIGHUP": None,
        "engine.SIGTERM": None,
    },
    "test_suite": {
        "engine.autoreload.on": False,
        "checker.on": False,
        "tools.log_headers.on": False,
        "request.show_tracebacks": True,
        "request.show_mismatched_params": True,
        "log.screen": False,
    },
}


def load(config: Any) -> dict[str, Any]:
    """A config given as a dict, a filename or an open file, as a dict (a copy)."""
    if config is None:
        return {}
    return Parser.load(config)


def is_sectioned(config: dict[str, Any]) -> bool:
    """Whether ``config`` is ``{section: {key: value}}`` rather than flat keys."""
    return bool(config) and all(isinstance(v, dict) for v in config.values())


class _Vars:
    """Sets a default attribute on a function or class (``_cp_config``)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def setdefault(self, key: str, default: Any) -> Any:
        if not hasattr(self.target, key):
            setattr(self.target, key, default)
        return getattr(self.target, key)


class Config(_ReprConfig):
    """The global config (``cherrypy.config``): flat ``namespace.key`` entries.

    ``update`` takes a flat dict, a ``{"global": {...}}`` dict, a config filename or an
    open file (only its ``[global]`` section, when it has one, goes in). Namespace
    handlers (``config.namespaces["server"] = handler``) receive each key of their
    namespace as it is set. ``cherrypy.config(**kw)`` is also a decorator that adds
    ``kw`` to the decorated class's or handler's ``_cp_config``.
    """

    defaults: dict[str, Any] = {
        "tools.log_tracebacks.on": True,
        "tools.log_headers.on": True,
        "tools.trailing_slash.on": True,
        "tools.encode.on": True,
    }
    environments = environments

    def __init__(self) -> None:
        self.namespaces = NamespaceSet()
        #: Called after every change (the tree drops its per-path caches).
        self.listeners: list[Callable[[], None]] = []
        #: Called with each flat config before it is applied; raise to refuse it
        #: (the package registers the strict key checks here).
        self.checks: list[Callable[[dict[str, Any]], None]] = []
        #: Whether an update carried application sections beside [global] (the
        #: checker's hint when an application's config is empty).
        self.global_config_contained_paths = False
        #: The application sections ("/path": {...}) such updates carried, which the
        #: global config does not apply: a start check wants each in an application.
        self.path_sections: dict[str, dict[str, Any]] = {}
        super().__init__()

    def reset(self) -> None:
        """Back to the defaults."""
        self.path_sections = {}
        super().reset()
        self._changed()

    def update(self, config: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        """Merge a dict, ``{"global": {...}}`` dict, config filename or open file."""
        data = load(config)
        data.update(kwargs)
        self._apply(data)

    @staticmethod
    def __call__(**kwargs: Any) -> Callable[[Any], Any]:
        """``@cherrypy.config(**{"tools.gzip.on": True})``: add to ``_cp_config``."""

        def decorate(f: Any) -> Any:
            _Vars(f).setdefault("_cp_config", {}).update(kwargs)
            return f

        return decorate

    def _apply(self, config: dict[str, Any]) -> None:
        if isinstance(config.get("global"), dict):
            if len(config) > 1:
                self.global_config_contained_paths = True
                for section, entries in config.items():
                    if section != "global" and isinstance(entries, dict):
                        self.path_sections.setdefault(section, {}).update(entries)
            config = dict(config["global"])
        env = config.get("environment")
        if env:
            if env not in self.environments:
                raise ValueError(
                    f"unknown environment {env!r}: use one of {sorted(self.environments)}"
                )
            for key, value in self.environments[env].items():
                config.setdefault(key, value)
        if "tools.staticdir.dir" in config:
            # As CherryPy: a global staticdir serves below each application's root.
            config["tools.staticdir.section"] = "global"
        for check in self.checks:
            check(config)
        dict.update(self, config)
        self.namespaces(config)
        self._changed()

    def __setitem__(self, key: str, value: Any) -> None:
        for check in self.checks:
            check({key: value})
        dict.__setitem__(self, key, value)
        self.namespaces({key: value})
        self._changed()

    def _changed(self) -> None:
        for listener in getattr(self, "listeners", ()):
            listener()


def merge_app_config(base: dict[str, dict[str, Any]], config: Any) -> None:
    """Merge an application config (``{"/path": {key: value}}``, a filename or an open
    file) into ``base``, section by section."""
    data = load(config)
    if data and not is_sectioned(data):
        raise ValueError(
            "Application config must include section headers: an application config "
            "maps paths to dicts, e.g. {'/': {'tools.gzip.on': True}}; "
            f"got the flat keys {sorted(map(str, data))[:3]}"
        )
    for section, values in data.items():
        if section != "global" and not section.startswith("/"):
            raise ValueError(
                f"application config section {section!r} must be 'global' or start with '/'"
            )
        base.setdefault(section, {}).update(values)


#: CherryPy's name for ``merge_app_config`` (``cherrypy._cpconfig.merge``).
merge = merge_app_config
