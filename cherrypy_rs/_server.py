"""The HTTP server (``cherrypy.server``): CherryPy's ``server.*`` config keys, the Rust
server they configure, and the Python worker threads that run handlers.

It subscribes to the engine: the server binds on "start" and stops gracefully on "stop".
"""

from __future__ import annotations

import threading
from typing import Any

from . import _core
from ._staticroutes import compile_routes
from ._tree import Application, StaticDirectory
from .serving import RequestHandler
from .wsgi import WSGIGateway


class AppRouter:
    """What the Rust workers call: hands each request to its mount's handler."""

    __slots__ = ("handlers",)

    def __init__(self, handlers: list[Any]) -> None:
        self.handlers = handlers

    def __call__(self, core: Any) -> Any:
        return self.handlers[core.app](core)


#: server.* keys cherrypy_rs implements, with CherryPy's defaults.
SERVER_DEFAULTS: dict[str, Any] = {
    "socket_host": "127.0.0.1",
    "socket_port": 8080,
    "socket_timeout": 10.0,
    "max_request_header_size": 500 * 1024,
    "max_request_body_size": 100 * 1024 * 1024,
    "shutdown_timeout": 5.0,
    "thread_pool": 10,
    "accepted_queue_size": 1024,
    "accepted_queue_timeout": 10.0,
    "socket_queue_size": 1024,
    "io_threads": 1,
    "max_headers": 100,
}

#: CherryPy server keys that are accepted and have no effect here, with the reason.
ACCEPTED_WITHOUT_EFFECT: dict[str, str] = {
    "thread_pool_max": "the worker pool is fixed at server.thread_pool",
    "nodelay": "TCP_NODELAY is always on",
    "protocol_version": "HTTP/1.1 is always spoken (HTTP/1.0 clients are answered in kind)",
    "reverse_dns": "remote.name is never looked up",
    "statistics": "statistics are not collected yet",
    "instance": "the server is always the Rust server",
    "wsgi_version": "the native path does not use WSGI",
    "ssl_module": "TLS is not available yet",
}

#: CherryPy server keys that need a feature that is not there yet.
NOT_YET: dict[str, str] = {
    "ssl_certificate": "TLS",
    "ssl_private_key": "TLS",
    "ssl_certificate_chain": "TLS",
    "ssl_context": "TLS",
    "ssl_ciphers": "TLS",
    "socket_file": "Unix sockets",
    "workers": "worker processes",
}


class ConfigError(ValueError):
    """A server.* config key that is unknown or not supported."""

    #: The message says all there is: the engine logs it without a traceback.
    quiet = True


class StartError(OSError):
    """The server could not listen (port in use, bad address...)."""

    quiet = True


class Server:
    """``cherrypy.server``: owns the Rust server and its Python worker threads."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = dict(SERVER_DEFAULTS)
        self.unknown: dict[str, Any] = {}
        self.core: Any = None
        self.handler: AppRouter | None = None
        self.threads: list[threading.Thread] = []
        self.bound_addr: tuple[str, int] | None = None
        self.access_log_screen = True
        self.access_log_file = ""
        self.tree: Any = None
        self.global_config: dict[str, Any] = {}
        self.log_error: Any = None
        self.bus: Any = None

    # -- CherryPy's attribute names ----------------------------------------------
    def __getattr__(self, name: str) -> Any:
        settings = self.__dict__.get("settings")
        if settings is not None and name in settings:
            return settings[name]
        raise AttributeError(f"'Server' object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        settings = self.__dict__.get("settings")
        if settings is not None and name in SERVER_DEFAULTS:
            settings[name] = value
        else:
            object.__setattr__(self, name, value)

    @property
    def bind_addr(self) -> tuple[str, int]:
        """(host, port) as configured (the bound address once started: ``bound_addr``)."""
        return (self.settings["socket_host"], self.settings["socket_port"])

    @bind_addr.setter
    def bind_addr(self, value: tuple[str, int]) -> None:
        self.settings["socket_host"], self.settings["socket_port"] = value

    def apply(self, key: str, value: Any) -> None:
        """The ``server`` config namespace handler: records each key."""
        if key in SERVER_DEFAULTS:
            self.settings[key] = value
        else:
            self.unknown[key] = value

    def validate(self) -> None:
        """Raise ConfigError naming any key the server cannot honour."""
        for key, value in self.unknown.items():
            if key in ACCEPTED_WITHOUT_EFFECT:
                continue
            if key in NOT_YET:
                if value in (None, "", False):
                    continue
                raise ConfigError(
                    f"server.{key} needs {NOT_YET[key]}, which cherrypy_rs does not support "
                    "yet: remove the key"
                )
            known = ", ".join(f"server.{k}" for k in sorted(SERVER_DEFAULTS))
            raise ConfigError(f"unknown config key server.{key}; known keys: {known}")

    def base(self) -> str:
        """The base URL (``http://host:port``) of this server."""
        host, port = self.bound_addr or self.bind_addr
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host in ("::", "::0", "::0.0.0.0"):
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}" if port == 80 else f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        return self.core is not None

    def start(self) -> None:
        """Bind, start the Rust server and the worker threads."""
        if self.core is not None:
            return
        self.validate()
        s = self.settings
        core = _core.Server(
            str(s["socket_host"]),
            int(s["socket_port"]),
            socket_timeout=float(s["socket_timeout"]),
            max_request_header_size=int(s["max_request_header_size"]),
            max_request_body_size=int(s["max_request_body_size"]),
            shutdown_timeout=float(s["shutdown_timeout"]),
            thread_pool=int(s["thread_pool"]),
            accepted_queue_size=int(s["accepted_queue_size"]),
            accepted_queue_timeout=float(s["accepted_queue_timeout"]),
            socket_queue_size=int(s["socket_queue_size"]),
            io_threads=int(s["io_threads"]),
            max_headers=int(s["max_headers"]),
            access_log_screen=bool(self.access_log_screen),
            access_log_file=self.access_log_file or None,
        )
        self._set_mounts(core)
        self.handler = AppRouter(self._handlers())
        try:
            self.bound_addr = core.start()
        except OSError as exc:
            raise StartError(str(exc)) from None
        self.core = core
        if self.bus is not None:
            self.bus.log(f"Serving on {self.describe()}")
        self.tree.listeners.append(self.remount)
        # A global config change must reach the per-path dispatch cache of this tree,
        # and the static routes compiled from the merged config.
        listeners = getattr(self.global_config, "listeners", None)
        if listeners is not None and self.tree.clear_caches not in listeners:
            listeners.append(self.tree.clear_caches)
        if listeners is not None and self.remount not in listeners:
            listeners.append(self.remount)
        for i in range(core.thread_pool):
            t = threading.Thread(
                target=core.run_worker,
                args=(self.handler, self._report),
                name=f"CP Server Thread-{i}",
                daemon=True,
            )
            t.start()
            self.threads.append(t)

    def _set_mounts(self, core: Any) -> None:
        """Give the Rust router the mount points and the static routes compiled from
        the applications' config."""
        ordered = self.tree.ordered()
        statics, sections = compile_routes(ordered, self.global_config)
        core.set_mounts([name for name, _app in ordered], statics, sections)

    def _handlers(self) -> list[Any]:
        """One request handler per mount, in the Rust router's order: the native path
        for CherryPy applications, the WSGI gateway for grafts (a static directory
        never reaches Python)."""
        ordered = self.tree.ordered()
        native = RequestHandler([app for _n, app in ordered], self.global_config, self.log_error)
        return [
            native
            if isinstance(app, (Application, StaticDirectory))
            else WSGIGateway(app, self.log_error)
            for _name, app in ordered
        ]

    def remount(self) -> None:
        """Rebuild the routes after ``tree.mount`` or a config change while running."""
        if self.core is None or self.handler is None:
            return
        self.handler.handlers = self._handlers()
        self._set_mounts(self.core)

    def _report(self, message: str, exc: BaseException | None) -> None:
        if exc is not None:
            import traceback

            message += "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.log_error(message, severity=40)

    def stop(self) -> None:
        """Graceful stop: in-flight requests finish (up to server.shutdown_timeout)."""
        core = self.core
        if core is None:
            return
        core.stop()
        for t in self.threads:
            t.join(timeout=max(1.0, float(self.settings["shutdown_timeout"])))
        self.threads = []
        if self.remount in self.tree.listeners:
            self.tree.listeners.remove(self.remount)
        listeners = getattr(self.global_config, "listeners", None)
        if listeners is not None and self.tree.clear_caches in listeners:
            listeners.remove(self.tree.clear_caches)
        if listeners is not None and self.remount in listeners:
            listeners.remove(self.remount)
        self.core = None
        self.handler = None
        self.bound_addr = None

    def subscribe(self, bus: Any) -> None:
        """Serve while ``bus`` is started."""
        self.bus = bus
        bus.subscribe("start", self.start, priority=75)
        bus.subscribe("stop", self.stop, priority=25)

    def describe(self) -> str:
        host, port = self.bound_addr or self.bind_addr
        return f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
