"""Configuration (``cherrypy._cpconfig``): the global config dict, environments, and
config files parsed without ``eval``.

Keys are namespaced ("server.socket_port", "log.screen", "request.show_tracebacks");
each namespace may register a handler that applies its keys to the matching object
(``cherrypy.server``, ``cherrypy.log``, ``cherrypy.engine``). This module never imports
the Rust core.
"""

from __future__ import annotations

import ast
import configparser
import os
from typing import Any, Callable

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


def literal(text: str, where: str) -> Any:
    """A config value: a Python literal (number, str, list, dict, True, None...).

    Nothing is evaluated: names and calls are refused with a message saying where.
    """
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as exc:
        raise ValueError(
            f"{where}: {text.strip()!r} is not a Python literal (quote strings, "
            f"e.g. 'value'): {exc}"
        ) from None


def load_file(filename: str) -> dict[str, dict[str, Any]]:
    """Read an INI-style CherryPy config file into ``{section: {key: value}}``."""
    if not os.path.exists(filename):
        raise OSError(f"config file {filename!r} does not exist")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    with open(filename, encoding="utf-8") as f:
        parser.read_file(f)
    result: dict[str, dict[str, Any]] = {}
    for section in parser.sections():
        result[section] = {
            key: literal(raw, f"{filename} [{section}] {key}")
            for key, raw in parser.items(section, raw=True)
        }
    return result


def as_dict(config: Any) -> dict[str, Any]:
    """A config given as a dict or a filename, as a dict."""
    if config is None:
        return {}
    if isinstance(config, str):
        return load_file(config)
    if hasattr(config, "read"):
        raise TypeError("pass a config file by its filename, not as an open file")
    return dict(config)


def is_sectioned(config: dict[str, Any]) -> bool:
    """Whether ``config`` is ``{section: {key: value}}`` rather than flat keys."""
    return bool(config) and all(isinstance(v, dict) for v in config.values())


class Config(dict):
    """The global config (``cherrypy.config``): flat ``namespace.key`` entries.

    ``update`` takes a flat dict, a ``{"global": {...}}`` dict or a config filename.
    Namespace handlers (``config.namespaces["server"] = handler``) receive each key of
    their namespace as it is set.
    """

    defaults: dict[str, Any] = {
        "tools.log_tracebacks.on": True,
        "tools.log_headers.on": True,
        "tools.trailing_slash.on": True,
        "tools.encode.on": True,
    }
    environments = environments

    def __init__(self) -> None:
        super().__init__()
        self.namespaces: dict[str, Callable[[str, Any], None]] = {}
        self.listeners: list[Callable[[], None]] = []
        self.reset()

    def reset(self) -> None:
        """Back to the defaults."""
        self.clear()
        dict.update(self, self.defaults)
        self._changed()

    def update(self, config: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        """Merge a dict, ``{"global": {...}}`` dict, or config filename."""
        data = as_dict(config)
        data.update(kwargs)
        if is_sectioned(data):
            data = dict(data.get("global", {}))
        self._apply(data)

    def _apply(self, config: dict[str, Any]) -> None:
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
        dict.update(self, config)
        self._dispatch(config)
        self._changed()

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self._dispatch({key: value})
        self._changed()

    def _dispatch(self, config: dict[str, Any]) -> None:
        for key, value in config.items():
            namespace, dot, rest = key.partition(".")
            if dot and namespace in self.namespaces:
                self.namespaces[namespace](rest, value)

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()


def merge_app_config(base: dict[str, dict[str, Any]], config: Any) -> None:
    """Merge an application config (``{"/path": {key: value}}`` or a filename) into
    ``base``, section by section."""
    data = as_dict(config)
    if data and not is_sectioned(data):
        raise ValueError(
            "an application config maps paths to dicts, e.g. {'/': {'tools.gzip.on': True}}; "
            f"got the flat keys {sorted(data)[:3]}"
        )
    for section, values in data.items():
        if section != "global" and not section.startswith("/"):
            raise ValueError(
                f"application config section {section!r} must be 'global' or start with '/'"
            )
        base.setdefault(section, {}).update(values)
