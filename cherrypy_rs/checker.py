"""The checker (``cherrypy._cpchecker.Checker``): warnings about suspicious config,
run when the engine starts.

It runs each of its ``check_*`` methods and reports with ``warnings.warn`` what
CherryPy's checker reports: application sections that repeat the script name, site-wide
keys in an application's config, an application with no config, brackets around
section names in a dict, static directories that do not exist, obsolete keys, values of
the wrong type, ``localhost`` as the socket host. ``checker.on = False`` (as the
production environments set) turns it off; ``checker.check_x = False`` turns one check
off. Keys cherrypy_rs would ignore are errors, not warnings: see ``config_check``.
"""

from __future__ import annotations

import builtins
import os
import warnings
from typing import Any

from . import context
from ._tree import Application
from .objects import Request, Response

__all__ = ["Checker"]


class Checker:
    """Runs every ``check_*`` method when called (at engine start) if ``on``."""

    on = True
    #: Set by the global config when an update carried application sections.
    global_config_contained_paths = False
    #: Namespaces the namespace check accepts besides the registered ones.
    extra_config_namespaces: list[str] = []

    obsolete = {
        "server.default_content_type": "tools.response_headers.headers",
        "log_access_file": "log.access_file",
        "log_config_options": None,
        "log_file": "log.error_file",
        "log_file_not_found": None,
        "log_request_headers": "tools.log_headers.on",
        "log_to_screen": "log.screen",
        "show_tracebacks": "request.show_tracebacks",
        "throw_errors": "request.throw_errors",
        "profiler.on": ("cherrypy.tree.mount(profiler.make_app(cherrypy.Application(Root())))"),
    }
    deprecated: dict[str, str] = {}

    def __init__(self) -> None:
        self.known_config_types: dict[str, type] = {}
        self._populate_known_types()

    def apply(self, key: str, value: Any) -> None:
        """The ``checker`` config namespace: sets an attribute of the checker (``on``,
        ``extra_config_namespaces``...); a name it does not have is refused."""
        if key.startswith("_") or not hasattr(self, key):
            raise ValueError(
                f"checker.{key}: the checker has no option {key!r}, so the key would do "
                "nothing (checker.on turns it off)"
            )
        setattr(self, key, value)

    def __call__(self) -> None:
        if not self.on:
            return
        previous = warnings.formatwarning
        warnings.formatwarning = self.formatwarning  # type: ignore[assignment]
        try:
            for name in dir(self):
                if name.startswith("check_"):
                    method = getattr(self, name)
                    if method and callable(method):
                        method()
        finally:
            warnings.formatwarning = previous

    def formatwarning(
        self, message: Any, category: Any, filename: Any, lineno: Any, line: Any = None
    ) -> str:
        return f"CherryPy Checker:\n{message}\n\n"

    @staticmethod
    def _apps() -> list[tuple[str, Application]]:
        tree = context.site.tree
        return [(sn, a) for sn, a in tree.apps.items() if isinstance(a, Application)]

    def check_app_config_entries_dont_start_with_script_name(self) -> None:
        """Sections that repeat the script name (``/blog/x`` in the app at ``/blog``)."""
        for sn, app in self._apps():
            if not app.config or sn == "":
                continue
            sn_atoms = sn.strip("/").split("/")
            for key in app.config:
                if key.strip("/").split("/")[: len(sn_atoms)] == sn_atoms:
                    warnings.warn(
                        f"The application mounted at {sn!r} has config entries that start "
                        f"with its script name: {key!r}",
                        stacklevel=2,
                    )

    def check_site_config_entries_in_app_config(self) -> None:
        """Site-wide keys (engine., server., tree., checker.) in an application."""
        for sn, app in self._apps():
            found = [
                f"[{section}] {key} = {value}"
                for section, entries in app.config.items()
                if section.startswith("/") and isinstance(entries, dict)
                for key, value in entries.items()
                if key.startswith(("engine.", "server.", "tree.", "checker."))
            ]
            if found:
                found.insert(
                    0,
                    f"The application mounted at {sn!r} contains the following config "
                    "entries, which are only allowed in site-wide config. Move them to a "
                    "[global] section and pass them to cherrypy.config.update() instead "
                    "of tree.mount().",
                )
                warnings.warn(os.linesep.join(found), stacklevel=2)

    def check_skipped_app_config(self) -> None:
        """An application mounted with no config at all."""
        for sn, app in self._apps():
            if not app.config:
                msg = f"The Application mounted at {sn!r} has an empty config."
                if self.global_config_contained_paths or getattr(
                    context.site.config, "global_config_contained_paths", False
                ):
                    msg += (
                        " It looks like the config you passed to cherrypy.config.update() "
                        "contains application-specific sections. You must explicitly pass "
                        "application config via cherrypy.tree.mount(..., config=app_config)"
                    )
                warnings.warn(msg, stacklevel=2)
                return

    def check_app_config_brackets(self) -> None:
        """``"[/]"`` as a section name in a config dict."""
        for sn, app in self._apps():
            for key in app.config:
                if key.startswith("[") or key.endswith("]"):
                    warnings.warn(
                        f"The application mounted at {sn!r} has config section names with "
                        f"extraneous brackets: {key!r}. Config *files* need brackets; "
                        "config *dicts* (e.g. passed to tree.mount) do not.",
                        stacklevel=2,
                    )

    def check_static_paths(self) -> None:
        """``tools.staticdir`` sections whose directory is missing or relative."""
        for _sn, app in self._apps():
            for section in app.config:
                if not app.find_config(section, "tools.staticdir.on", False):
                    continue
                root = app.find_config(section, "tools.staticdir.root")
                directory = app.find_config(section, "tools.staticdir.dir")
                msg = ""
                if directory is None:
                    msg = "tools.staticdir.dir is not set."
                else:
                    fulldir = ""
                    if os.path.isabs(directory):
                        fulldir = directory
                        if root:
                            msg = "dir is an absolute path, even though a root is provided."
                            testdir = os.path.join(root, directory[1:])
                            if os.path.exists(testdir):
                                msg += (
                                    "\nIf you meant to serve the filesystem folder at "
                                    f"{testdir!r}, remove the leading slash from dir."
                                )
                    elif not root:
                        msg = "dir is a relative path and no root provided."
                    else:
                        fulldir = os.path.join(root, directory)
                        if not os.path.isabs(fulldir):
                            msg = f"{fulldir!r} is not an absolute path."
                    if fulldir and not os.path.exists(fulldir):
                        if msg:
                            msg += "\n"
                        msg += f"{fulldir!r} (root + dir) is not an existing filesystem path."
                if msg:
                    warnings.warn(
                        f"{msg}\nsection: [{section}]\nroot: {root!r}\ndir: {directory!r}",
                        stacklevel=2,
                    )

    def _compat(self, config: dict[str, Any]) -> None:
        for section, conf in config.items():
            entries = conf if isinstance(conf, dict) else {section: conf}
            where = f"\nsection: [{section}]" if isinstance(conf, dict) else ""
            for key in entries:
                if key in self.obsolete:
                    warnings.warn(
                        f"{key!r} is obsolete. Use {self.obsolete[key]!r} instead.{where}",
                        stacklevel=3,
                    )
                elif key in self.deprecated:
                    warnings.warn(
                        f"{key!r} is deprecated. Use {self.deprecated[key]!r} instead.{where}",
                        stacklevel=3,
                    )

    def check_compatibility(self) -> None:
        """Obsolete and deprecated keys."""
        self._compat(context.site.config)
        for _sn, app in self._apps():
            self._compat(app.config)

    def _populate_known_types(self) -> None:
        plain = tuple(t for t in vars(builtins).values() if type(t) is type)

        def traverse(obj: Any, namespace: str) -> None:
            for name in dir(obj):
                if name.startswith("_") or name == "body_params":
                    continue
                try:
                    vtype = type(getattr(obj, name, None))
                except Exception:
                    continue
                if vtype in plain and vtype is not type(None):
                    self.known_config_types[f"{namespace}.{name}"] = vtype

        traverse(Request, "request")
        traverse(Response, "response")
        settings = getattr(context.site.server, "settings", None) or {}
        for name, value in settings.items():
            if value is not None:
                self.known_config_types[f"server.{name}"] = type(value)

    def _known_types(self, config: dict[str, Any]) -> None:
        for section, conf in config.items():
            entries = conf if isinstance(conf, dict) else {section: conf}
            for key, value in entries.items():
                expected = self.known_config_types.get(key)
                if value is None or expected is None or type(value) is expected:
                    continue
                if expected is float and type(value) is int:
                    continue
                warnings.warn(
                    f"The config entry {key!r} in section {section!r} is of type "
                    f"{type(value).__name__!r}, which does not match the expected type "
                    f"{expected.__name__!r}.",
                    stacklevel=3,
                )

    def check_config_types(self) -> None:
        """Values whose type differs from the attribute's default."""
        self._known_types(context.site.config)
        for _sn, app in self._apps():
            self._known_types(app.config)

    def check_localhost(self) -> None:
        """``server.socket_host = 'localhost'``."""
        if context.site.config.get("server.socket_host") == "localhost":
            warnings.warn(
                "The use of 'localhost' as a socket host can cause problems on newer "
                "systems, since 'localhost' can map to either an IPv4 or an IPv6 address. "
                "You should use '127.0.0.1' or '[::1]' instead.",
                stacklevel=2,
            )
