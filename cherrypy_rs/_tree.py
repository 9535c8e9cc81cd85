"""Applications and the tree of mount points (``cherrypy._cptree``).

``tree.mount(root, "/blog", config)`` creates an ``Application``; the Rust router picks
the application by the longest matching script name. This module never imports the
Rust core.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from . import context
from ._config import merge_app_config
from .default_tools import tools
from .dispatch import Dispatcher
from .lib.reprconf import NamespaceSet
from .objects import Request, Response
from .wsgipipeline import WSGIPipeline


class Application:
    """A CherryPy application: a root object, its script name and its config.

    ``config`` maps path sections to dicts (``{"/": {...}, "/static": {...}}``).
    """

    relative_urls: Any = False
    #: Namespaces of the application's ``[/]`` config, called at each merge (CherryPy's
    #: ``log`` is refused with what to do instead, ``wsgi`` fills ``wsgiapp``).
    namespaces = NamespaceSet()
    #: The config sections of every instance, before its own (a class may set some).
    config: dict[str, dict[str, Any]] = {}

    def __init__(self, root: Any, script_name: str = "", config: Any = None) -> None:
        self.root = root
        self.script_name = script_name
        self.namespaces = type(self).namespaces.copy()
        self.namespaces.setdefault("log", self._log_namespace)
        #: The WSGI middleware around this application (``wsgi.pipeline``).
        self.wsgiapp = WSGIPipeline(self._native_wsgi)
        self.namespaces.setdefault("wsgi", self._wsgi_namespace)
        self.config = {k: dict(v) for k, v in type(self).config.items()}
        #: The default dispatcher (``request.dispatch`` in a section overrides it).
        self.dispatcher = Dispatcher()
        #: Resolutions by path_info (see ``dispatch.find``).
        self.dispatch_cache: dict[Any, Any] = {}
        if config:
            self.merge(config)

    #: Toolboxes by config namespace (``tools.*`` is ``cherrypy.tools``).
    toolboxes: dict[str, Any] = {"tools": tools}
    request_class = Request
    response_class = Response

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r}, {self.script_name!r})"

    @property
    def log(self) -> Any:
        """``app.log``: the log manager of this application's requests — in
        cherrypy_rs the process's one, ``cherrypy.log`` (its ``access_log_format``
        and error log apply to every application)."""
        return context.site.log

    def _where(self) -> str:
        return f"the application mounted at {self.script_name or '/'!r}, section [/]"

    def _log_namespace(self, key: str, value: Any) -> None:
        raise ValueError(
            f"{self._where()}: log.{key} in an application's [/] config: cherrypy_rs has "
            "one log for the process, not one per application; set it in the [global] "
            "section (cherrypy.config.update) instead"
        )

    def _wsgi_namespace(self, key: str, value: Any) -> None:
        try:
            self.wsgiapp.namespace_handler(key, value)
        except ValueError as exc:
            raise ValueError(f"{self._where()}: {exc}") from None

    def merge(self, config: Any) -> None:
        """Merge a config dict or filename into this application's config."""
        merge_app_config(self.config, config)
        self.dispatch_cache.clear()
        # As CherryPy: the [/] section's entries go to the application's namespaces.
        self.namespaces(self.config.get("/", {}))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve one request as a WSGI application (under gunicorn, waitress, ...),
        through ``wsgiapp``'s middleware pipeline when there is one.

        The Rust server calls the native path directly, unless a pipeline is set.
        """
        if self.wsgiapp.pipeline:
            return self.wsgiapp(environ, start_response)
        return self._native_wsgi(environ, start_response)

    def _native_wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """The application alone as a WSGI callable (the pipeline's innermost app)."""
        # Lazy: this module stays free of the Rust core (testable without a server).
        from .wsgi import serve_wsgi

        return serve_wsgi(self.wsgi_handler(), environ, start_response)

    def wsgi_handler(self) -> Any:
        """The native request handler for this application alone, built once."""
        handler = self.__dict__.get("_wsgi_handler")
        if handler is None:
            # Lazy: this module stays free of the Rust core (testable without a server).
            from .handler import RequestHandler

            handler = RequestHandler([self], context.site.config, context.site.log.error)
            self._wsgi_handler = handler
        return handler

    def find_config(self, path: str, key: str, default: Any = None) -> Any:
        """The most specific value of ``key`` along ``path`` in this application's
        config sections (not ``_cp_config``), or ``default``."""
        trail = path or "/"
        while trail:
            section = self.config.get(trail, {})
            if key in section:
                return section[key]
            lastslash = trail.rfind("/")
            if lastslash == -1:
                break
            if lastslash == 0 and trail != "/":
                trail = "/"
            else:
                trail = trail[:lastslash]
        return default


#: The icon served at /favicon.ico by applications mounted at the root.
FAVICON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "favicon.ico")


class DefaultFavicon:
    """``root.favicon_ico`` of an application mounted at "" (CherryPy gives it a
    ``tools.staticfile`` handler); the Rust router serves the file itself."""

    exposed = True

    def __call__(self) -> Any:
        # Lazy: this module stays free of the Rust core (testable without a server).
        from .lib.static import serve_file

        return serve_file(FAVICON, "image/x-icon")


class StaticDirectory:
    """A directory served by Rust alone at a script name (``tree.serve_dir``; the
    ``cherrypy-rs static`` command): no application behind it, so what is not there
    gets a plain 404 from Rust."""

    def __init__(
        self,
        directory: str,
        *,
        index: str | None = None,
        listing: bool = False,
        dotfiles: bool = False,
        precompressed: bool = False,
        cache_valid: float = 1.0,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        if not os.path.isdir(directory):
            raise ValueError(f"{directory!r} is not an existing directory")
        self.directory = os.path.abspath(directory)
        self.index = index
        self.listing = listing
        self.dotfiles = dotfiles
        self.precompressed = precompressed
        self.cache_valid = cache_valid
        self.headers = list(headers or [])

    def __repr__(self) -> str:
        return f"StaticDirectory({self.directory!r})"


def normalize_script_name(script_name: str | None) -> str:
    """ "/" and "" both mean the root; other names lose their trailing slash."""
    if script_name is None:
        raise TypeError(
            "The 'script_name' argument may not be None. Application objects may, "
            "however, possess a script_name of None (in order to inspect the WSGI "
            "environ for SCRIPT_NAME upon each request). You cannot mount such "
            "Applications on this Tree; you must pass them to a WSGI server "
            "interface directly."
        )
    script_name = script_name.rstrip("/")
    if script_name and not script_name.startswith("/"):
        raise ValueError(f"script_name {script_name!r} must start with '/'")
    return script_name


class Tree:
    """The registry of mounted applications (``cherrypy.tree``)."""

    #: Called with (app, script_name, global config) before any tree mounts an app; they
    #: raise on a config the server cannot serve. The package registers the static
    #: routes' checks here (this module does not import the server side).
    mount_checks: list[Callable[[Application, str, dict[str, Any]], None]] = []
    #: Called with (app, script_name) for each mounted application when a server
    #: starts (after applications registered their config namespaces).
    start_checks: list[Callable[[Application, str], None]] = []
    #: Called with the tree itself when a server starts (checks across mounts).
    tree_checks: list[Callable[[Tree], None]] = []

    def __init__(self) -> None:
        #: Script name → an Application, a StaticDirectory or a grafted WSGI callable.
        self.apps: dict[str, Application | StaticDirectory | Callable[..., Any]] = {}
        #: Called after every change, so the server can rebuild its routes.
        self.listeners: list[Callable[[], None]] = []

    def mount(self, root: Any, script_name: str = "", config: Any = None) -> Application:
        """Mount ``root`` (an object or an Application) at ``script_name``."""
        script_name = normalize_script_name(script_name)
        if isinstance(root, Application):
            app = root
            if script_name != "" and script_name != app.script_name:
                raise ValueError(
                    "Cannot specify a different script name and pass an Application "
                    "instance to cherrypy.mount"
                )
            script_name = app.script_name
            if config:
                app.merge(config)
        else:
            app = Application(root, script_name, config)
            if script_name == "" and root is not None and not hasattr(root, "favicon_ico"):
                # As CherryPy: an application at the root answers /favicon.ico.
                root.favicon_ico = DefaultFavicon()
        for check in self.mount_checks:
            check(app, script_name, self.global_config())
        self.apps[script_name] = app
        self._changed()
        return app

    def check(self) -> None:
        """Run the start checks on every mounted application (the server calls it)."""
        for script_name, app in self.ordered():
            if isinstance(app, Application):
                for check in self.start_checks:
                    check(app, script_name)
        for tree_check in self.tree_checks:
            tree_check(self)

    @staticmethod
    def global_config() -> dict[str, Any]:
        """The process-wide config the applications' sections are merged onto."""
        return context.site.config

    def serve_dir(self, directory: str, script_name: str = "", **options: Any) -> None:
        """Serve ``directory`` at ``script_name`` from Rust, with no application
        behind it (options: ``index``, ``listing``, ``dotfiles``, ``precompressed``,
        ``cache_valid``, ``headers``; see ``StaticDirectory``)."""
        self.apps[normalize_script_name(script_name)] = StaticDirectory(directory, **options)
        self._changed()

    def graft(self, wsgi_callable: Callable[..., Any], script_name: str = "") -> None:
        """Serve a WSGI application (Flask, Django...) at ``script_name`` and below."""
        if not callable(wsgi_callable):
            raise TypeError(f"tree.graft() needs a WSGI callable, not {wsgi_callable!r}")
        self.apps[normalize_script_name(script_name)] = wsgi_callable
        self._changed()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve one request as a WSGI application: pick the mounted application by
        the longest matching script name, as CherryPy's tree does."""
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        name = self.script_name(path or "/")
        if name is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found"]
        environ = dict(environ)
        environ["SCRIPT_NAME"] = name
        environ["PATH_INFO"] = path[len(name) :]
        app = self.apps[name]
        if isinstance(app, Application):
            return app(environ, start_response)
        if isinstance(app, StaticDirectory):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found: static directories are served by the cherrypy_rs server"]
        return app(environ, start_response)

    def script_name(self, path: str | None = None) -> str | None:
        """The script name of the application that serves ``path``, or None."""
        if path is None:
            request = context.request_or_none()
            if request is None:
                return None
            path = request.script_name + request.path_info
        while True:
            if path in self.apps:
                return path
            if path == "":
                return None
            path = path[: path.rfind("/")]

    def ordered(self) -> list[tuple[str, Application | StaticDirectory | Callable[..., Any]]]:
        """Mounts in a stable order: the index of each is its id in the Rust router."""
        return sorted(self.apps.items())

    def clear_caches(self) -> None:
        """Forget every cached dispatch (after a config change)."""
        for app in self.apps.values():
            if isinstance(app, Application):
                app.dispatch_cache.clear()

    def _changed(self) -> None:
        self.clear_caches()
        for listener in self.listeners:
            listener()
