"""The HTTP server (``cherrypy.server``): CherryPy's ``server.*`` config keys, the Rust
server they configure, and the Python worker threads that run handlers.

It subscribes to the engine: the server binds on "start" and stops gracefully on "stop".
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
import traceback
from typing import Any, Callable

from . import _core, _log, context
from ._limits import open_files_needed, open_files_warning
from ._staticroutes import compile_routes
from ._tree import Application, StaticDirectory
from .access_logging import AccessLoggingHandler
from .handler import RequestHandler
from .process.servers import ServerAdapter
from .process.wspbus import SERVING_ATTR
from .wsgi import WSGIGateway


def access_log_handler() -> Any:
    """When handlers are attached to ``cherrypy.log.access_log`` (the "cherrypy.access"
    logger), the function Rust hands the access lines to (at INFO, as CherryPy logs
    them); None otherwise: Rust writes the screen/file outputs alone."""
    logger = logging.getLogger("cherrypy.access")
    if not any(not isinstance(h, logging.NullHandler) for h in logger.handlers):
        return None

    def emit(batch: str) -> None:
        for line in batch.splitlines():
            logger.info(line)

    return emit


#: The servers started and not yet stopped (``flush_access_logs``).
_running: list[Server] = []


def flush_access_logs(timeout: float = 10.0) -> bool:
    """Wait until every running server has written the access-log lines of the
    requests it answered so far (Rust writes them on a thread of its own). True when
    all did within ``timeout`` seconds each. For tests that read the log file."""
    done = True
    for server in list(_running):
        core = server.core
        if core is not None:
            done = core.flush_access_log(timeout) and done
    return done


class AppRouter:
    """What the Rust workers call: hands each request to its mount's handler.

    A worker thread publishes ``acquire_thread`` before its first request, and again
    after ``engine.graceful()`` (CherryPy's ThreadManager numbers the threads that
    served requests since the last start or graceful)."""

    __slots__ = ("acquired", "bus", "handlers")

    def __init__(self, handlers: list[Any], bus: Any = None) -> None:
        self.handlers = handlers
        self.bus = bus
        #: Idents of the threads that published ``acquire_thread``.
        self.acquired: set[int] = set()

    def acquire(self, ident: int) -> None:
        """Publish ``acquire_thread`` for the calling worker thread."""
        self.acquired.add(ident)
        if self.bus is not None:
            try:
                self.bus.publish("acquire_thread")
            except Exception:
                pass  # the bus has logged the listener's error; serve anyway

    def __call__(self, core: Any) -> Any:
        ident = threading.get_ident()
        if ident not in self.acquired:
            self.acquire(ident)
        return self.handlers[core.app](core)


class TimedAppRouter(AppRouter):
    """An AppRouter that records when each thread's current request started, for the
    worker-process heartbeat (``--timeout``). Used only when a timeout is set, so the
    default path pays nothing."""

    __slots__ = ("busy",)

    def __init__(self, handlers: list[Any], bus: Any = None) -> None:
        super().__init__(handlers, bus)
        #: thread ident -> monotonic start of the request it is running.
        self.busy: dict[int, float] = {}

    def __call__(self, core: Any) -> Any:
        ident = threading.get_ident()
        if ident not in self.acquired:
            self.acquire(ident)
        self.busy[ident] = time.monotonic()
        try:
            return self.handlers[core.app](core)
        finally:
            self.busy.pop(ident, None)

    def stuck(self, threads: int, timeout: float) -> bool:
        """Whether all ``threads`` are busy on requests older than ``timeout`` seconds."""
        started = list(self.busy.values())
        return len(started) >= threads and time.monotonic() - max(started) > timeout


class HTTPServerHandle:
    """``cherrypy.server.httpserver``: the Rust server (``_core.Server``) with cheroot's
    ``interrupt`` and ``timeout`` (read-only: ``server.socket_timeout``). Setting
    ``interrupt = KeyboardInterrupt`` (or any exception) stops serving and exits the
    engine, as cheroot's serving thread does when it sees one."""

    __slots__ = ("_server",)

    def __init__(self, server: Server) -> None:
        self._server = server

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server.core, name)

    def __repr__(self) -> str:
        return f"<HTTP server {self._server.describe()}>"

    @property
    def timeout(self) -> Any:
        """cheroot's ``timeout``: the socket timeout the server uses now (seconds;
        ``server.socket_timeout`` unless set here), as it was given."""
        value = self._server.__dict__.get("live_timeout")
        return self._server.settings["socket_timeout"] if value is None else value

    @timeout.setter
    def timeout(self, value: Any) -> None:
        # Every deadline set from now on uses it (cheroot applies it to the connections
        # it accepts next); a value that is not a number of seconds >= 0 is a ValueError.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"httpserver.timeout = {value!r}: a number of seconds is expected")
        self._server.core.set_socket_timeout(float(value))
        # Until the server stops (a new start takes server.socket_timeout again, as
        # CherryPy builds a new HTTP server from the config).
        object.__setattr__(self._server, "live_timeout", value)

    @property
    def interrupt(self) -> BaseException | type[BaseException] | None:
        """The exception that stopped the server, or None."""
        return self._server.interrupted

    @interrupt.setter
    def interrupt(self, exc: BaseException | type[BaseException]) -> None:
        server = self._server
        server.interrupted = exc
        bus = server.bus
        if bus is None:
            server.stop()
            return
        name = getattr(exc, "__name__", type(exc).__name__)
        bus.log(f"{name} set on the HTTP server: shutting down")
        # From a request handler the bus hands the exit to another thread.
        bus.exit()


#: server.* keys cherrypy_rs implements, with CherryPy's defaults: written once, in Rust
#: (``rust/config.rs``), and documented in docs/configuration.md (checked by a test).
SERVER_DEFAULTS: dict[str, Any] = dict(_core.SERVER_DEFAULTS)


def forwarded_allow_ips(value: Any) -> str:
    """The trusted proxies as the Rust server reads them: a comma-separated string
    ("" for none)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    return str(value)


#: server.ssl_module values: CherryPy's default name and the real one.
SSL_MODULES = ("builtin", "rustls")

#: CherryPy server keys accepted at the value that describes what the server does
#: (CherryPy's default), and refused at any other: (is the value honoured?, why not).
ACCEPTED_AT_DEFAULT: dict[str, tuple[Callable[[Any], bool], str]] = {
    "nodelay": (bool, "TCP_NODELAY is always on"),
    "protocol_version": (
        lambda v: v in (None, "HTTP/1.1"),
        "the server always speaks HTTP/1.1 (HTTP/1.0 clients are answered in kind); "
        "it cannot be made an HTTP/1.0 server",
    ),
    "reverse_dns": (
        lambda v: not v,
        "remote host names are never looked up (nor in CherryPy 18, which has no such "
        "key): request.remote.name stays empty",
    ),
    "wsgi_version": (
        lambda v: v is None or tuple(v) == (1, 0),
        "WSGI grafts are served by a PEP 3333 (WSGI 1.0) gateway; ('u', 0) is not implemented",
    ),
}

#: CherryPy server keys that are accepted and ignored with a warning at start.
IGNORED_WITH_WARNING: dict[str, str] = {
    "ssl_ciphers": "rustls' default cipher suites are used (TLS 1.3, and TLS 1.2 with "
    "ECDHE and AES-GCM or ChaCha20-Poly1305 only)",
    "statistics": "the server keeps no statistics for cpstats (requests are counted in "
    "the access log)",
}

#: CherryPy server keys that cannot work here, with what to do instead.
UNSUPPORTED: dict[str, str] = {
    "ssl_context": "TLS is rustls, not Python's ssl module: set server.ssl_certificate, "
    "server.ssl_private_key (and server.ssl_certificate_chain) instead",
    "instance": "cherrypy.server is always cherrypy_rs's Rust server (it stands in for "
    "CherryPy's built-in 'cherrypy._cpwsgi_server.CPWSGIServer', which may be named); to "
    "run the application under another HTTP server, serve cherrypy.tree as WSGI",
}

#: ``server.instance`` values that name CherryPy's own built-in server, which the Rust
#: server stands in for (CherryPy's test_config_server sets one).
BUILTIN_SERVER_NAMES = (
    "cherrypy._cpwsgi_server.CPWSGIServer",
    "cherrypy_rs._cpwsgi_server.CPWSGIServer",
)

#: CherryPy server keys that need a feature that is not there yet.
NOT_YET: dict[str, str] = {}

#: server.* keys read by the process model (``cherrypy-rs ... --workers``), not by the
#: HTTP server itself.
PROCESS_KEYS: dict[str, Any] = {"workers": 1}


class ConfigError(ValueError):
    """A server.* config key that is unknown or not supported."""

    #: The message says all there is: the engine logs it without a traceback.
    quiet = True


class StartError(OSError):
    """The server could not listen (port in use, bad address...)."""

    quiet = True


class Server(ServerAdapter):
    """``cherrypy.server``: owns the Rust server and its Python worker threads; a
    ``ServerAdapter`` on the engine. Keys ``server.<name>.<key>`` configure an extra
    server ``<name>`` (``extras``; another port, HTTPS next to HTTP...)."""

    #: The protocol the server speaks (``server.protocol_version`` has no effect).
    protocol_version = "HTTP/1.1"

    def __init__(self) -> None:
        self.settings: dict[str, Any] = dict(SERVER_DEFAULTS)
        self.unknown: dict[str, Any] = {}
        self.core: Any = None
        self.handler: AppRouter | None = None
        self.threads: list[threading.Thread] = []
        self._bound: tuple[str, int] | None = None
        self.access_log_screen = True
        self.access_log_file = ""
        self.tree: Any = None
        self.global_config: dict[str, Any] = {}
        self.log_error: Any = None
        self.bus: Any = None
        #: What ``httpserver.interrupt`` was set to (cheroot's attribute), or None.
        self.interrupted: BaseException | type[BaseException] | None = None
        #: A ``_core.Listener`` bound by the master process: served instead of binding.
        self.listener: Any = None
        #: True in a worker process of a master with more than one worker.
        self.multiprocess = False
        #: ``--timeout``: record request start times (see TimedAppRouter).
        self.track_busy = False
        self.process: dict[str, Any] = dict(PROCESS_KEYS)
        #: Extra servers configured as ``server.<name>.*``, by name.
        self.extras: dict[str, Server] = {}
        #: How error messages name this server's keys (``server.<name>.`` for an extra).
        self.key_prefix = "server."

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

    def extra(self, name: str) -> Server:
        """The extra server ``name`` (created, and subscribed to the engine, on first use)."""
        server = self.extras.get(name)
        if server is None:
            server = Server()
            server.key_prefix = f"server.{name}."
            server.tree = self.tree
            server.global_config = self.global_config
            server.log_error = self.log_error
            server.access_log_screen = self.access_log_screen
            server.access_log_file = self.access_log_file
            self.extras[name] = server
            if self.bus is not None:
                server.subscribe(self.bus)
        return server

    @property
    def httpserver(self) -> HTTPServerHandle | None:
        """The running HTTP server (None when stopped): the Rust server's attributes,
        and cheroot's ``interrupt``."""
        if self.core is None:
            return None
        return HTTPServerHandle(self)

    @property
    def description(self) -> str:
        return self.describe()

    @property
    def bind_addr(self) -> tuple[str, int]:
        """(host, port) as configured (the bound address once started: ``bound_addr``)."""
        return (self.settings["socket_host"], self.settings["socket_port"])

    @bind_addr.setter
    def bind_addr(self, value: tuple[str, int]) -> None:
        self.settings["socket_host"], self.settings["socket_port"] = value

    @property
    def bound_addr(self) -> tuple[str, int]:
        """The address the server listens at while started (the real port when
        ``socket_port`` is 0); ``bind_addr`` otherwise, as in CherryPy."""
        return self._bound or self.bind_addr

    @bound_addr.setter
    def bound_addr(self, value: tuple[str, int] | None) -> None:
        self._bound = value

    def apply(self, key: str, value: Any) -> None:
        """The ``server`` config namespace handler: records each key."""
        if key in SERVER_DEFAULTS:
            self.settings[key] = value
        elif "." in key:
            name, sub = key.split(".", 1)
            self.extra(name).apply(sub, value)
        elif key in PROCESS_KEYS:
            self.process[key] = value
        else:
            self.unknown[key] = value

    def validate(self) -> None:
        """Raise ConfigError naming any key the server cannot honour."""
        # An extra server's keys are server.<name>.<key>.
        prefix = self.key_prefix
        for key, value in self.unknown.items():
            if key in IGNORED_WITH_WARNING:
                continue
            if key == "thread_pool_max":
                self._check_thread_pool_max(prefix, value)
                continue
            if key in ACCEPTED_AT_DEFAULT:
                honoured, why = ACCEPTED_AT_DEFAULT[key]
                try:
                    ok = honoured(value)
                except TypeError:
                    ok = False
                if ok:
                    continue
                raise ConfigError(
                    f"{prefix}{key} = {value!r} is not supported: {why}; remove the key"
                )
            if key in UNSUPPORTED:
                if value in (None, "", False):
                    continue
                if key == "instance" and value in BUILTIN_SERVER_NAMES:
                    continue
                raise ConfigError(f"{prefix}{key} is not supported: {UNSUPPORTED[key]}")
            if key in NOT_YET:
                if value in (None, "", False):
                    continue
                raise ConfigError(
                    f"{prefix}{key} needs {NOT_YET[key]}, which cherrypy_rs does not support "
                    "yet: remove the key"
                )
            known = ", ".join(f"{prefix}{k}" for k in sorted(SERVER_DEFAULTS))
            raise ConfigError(f"unknown config key {prefix}{key}; known keys: {known}")
        s = self.settings
        module = s["ssl_module"]
        if module not in (None, "", *SSL_MODULES):
            raise ConfigError(
                f"server.ssl_module = {module!r} is not available: TLS is rustls; use "
                "'builtin' (CherryPy's default name) or 'rustls'"
            )
        if not s["ssl_certificate"]:
            for key in ("ssl_private_key", "ssl_certificate_chain", "ssl_client_ca"):
                if s[key]:
                    raise ConfigError(
                        f"server.{key} is set but server.ssl_certificate is not: set "
                        "server.ssl_certificate (and server.ssl_private_key) for HTTPS"
                    )
        verify = str(s["ssl_verify_client"] or "none").lower()
        if verify not in ("none", "optional", "required"):
            raise ConfigError(
                f"server.ssl_verify_client = {s['ssl_verify_client']!r}: use 'none', "
                "'optional' or 'required'"
            )
        if verify != "none" and not s["ssl_client_ca"]:
            raise ConfigError(
                f"server.ssl_verify_client = {verify!r} needs server.ssl_client_ca: the PEM "
                "file of the CAs that client certificates must chain to"
            )
        for entry in forwarded_allow_ips(s["forwarded_allow_ips"]).split(","):
            entry = entry.strip()
            if entry in ("", "*"):
                continue
            try:
                ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError:
                raise ConfigError(
                    f"server.forwarded_allow_ips: {entry!r} is not an IP address or network "
                    "(e.g. 10.0.0.1, 10.0.0.0/8, ::1, or * for every peer)"
                ) from None
        if s["proxy_protocol"] and s["socket_file"]:
            raise ConfigError(
                "server.proxy_protocol is for TCP load balancers: a Unix socket "
                "(server.socket_file) has no PROXY header to read"
            )
        if s["http2"] not in (None, True, False):
            raise ConfigError(f"server.http2 = {s['http2']!r}: use True, False or None")

    def _check_thread_pool_max(self, prefix: str, value: Any) -> None:
        """``server.thread_pool_max``, as cheroot's ThreadPool reads it: -1 (or any
        negative number, or infinity) for no maximum, else at least ``thread_pool``.
        The pool never grows past ``thread_pool`` here (nor in cheroot, which grows
        it only when asked), so a valid maximum is always met."""
        if value is None or (isinstance(value, float) and value == float("inf")):
            return
        if isinstance(value, bool) or not isinstance(value, int) or value == 0:
            raise ConfigError(
                f"{prefix}thread_pool_max = {value!r}: use an int (-1 for no maximum)"
            )
        threads = self.settings["thread_pool"]
        if 0 < value < threads:
            raise ConfigError(
                f"{prefix}thread_pool_max = {value!r} is below {prefix}thread_pool = "
                f"{threads!r}: the pool has thread_pool threads; raise the maximum or "
                "remove it (-1: no maximum)"
            )

    def access_outputs(self) -> tuple[bool, str] | None:
        """(screen, file) of the access log of the server while it serves, else None."""
        return self.__dict__.get("live_access") if self.core is not None else None

    @property
    def tls(self) -> bool:
        """Whether the server is configured for HTTPS (``server.ssl_certificate``)."""
        return bool(self.settings["ssl_certificate"])

    @property
    def scheme(self) -> str:
        """``https`` with TLS configured, else ``http``."""
        return "https" if self.tls else "http"

    def base(self) -> str:
        """The base URL (``http://host:port``) of this server."""
        host, port = self.bound_addr
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host in ("::", "::0", "::0.0.0.0"):
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        default_port = 443 if self.tls else 80
        return (
            f"{self.scheme}://{host}" if port == default_port else f"{self.scheme}://{host}:{port}"
        )

    # ServerAdapter keeps ``running`` as an attribute; here the Rust server says.
    @property
    def running(self) -> bool:  # type: ignore[override]
        return self.core is not None

    def check(self) -> Any:
        """Every ``server.*`` key checked, by Python and by the Rust server's own
        validation: the ``_core.Server`` this configuration makes (not started).
        Raises ConfigError naming the key."""
        self.validate()
        s = self.settings
        try:
            return _core.Server(
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
                max_request_line=int(s["max_request_line"]),
                access_log_handler=access_log_handler(),
                access_log_screen=bool(self.access_log_screen),
                access_log_file=self.access_log_file or None,
                listener=self.listener,
                socket_file=str(s["socket_file"]) if s["socket_file"] else None,
                forwarded_allow_ips=forwarded_allow_ips(s["forwarded_allow_ips"]),
                proxy_protocol=bool(s["proxy_protocol"]),
                **self._tls_arguments(),
            )
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(str(exc)) from None

    def start(self) -> None:
        """Bind, start the Rust server and the worker threads."""
        if self.core is not None:
            return
        self.interrupted = None
        workers = self.process.get("workers", 1)
        if workers not in (None, 1) and self.listener is None:
            raise ConfigError(
                f"server.workers = {workers!r}: worker processes are started by a master "
                "process, by quickstart() or the cherrypy-rs command, not by engine.start()"
            )
        if self.tree is not None:
            # Config keys nobody handles (namespaces are registered after mounting).
            self.tree.check()
        core = self.check()
        s = self.settings
        shortfall = open_files_warning(
            open_files_needed(
                int(s["socket_queue_size"]), int(s["accepted_queue_size"]), int(s["thread_pool"])
            )
        )
        self._set_mounts(core)
        self.handler = (TimedAppRouter if self.track_busy else AppRouter)(
            self._handlers(), self.bus
        )
        try:
            self.bound_addr = core.start()
        except OSError as exc:
            raise StartError(str(exc)) from None
        except ValueError as exc:
            # A TLS file that cannot be used: the message names the key and the file.
            raise ConfigError(str(exc)) from None
        self.core = core
        self.live_access = (bool(self.access_log_screen), self.access_log_file or "")
        self.__dict__.pop("live_timeout", None)
        if shortfall is not None:
            self._warn(shortfall)
        for key, why in IGNORED_WITH_WARNING.items():
            if self.unknown.get(key):
                self._warn(f"server.{key} is ignored: {why}")
        for warning in core.warnings:
            self._warn(warning)
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
        # A custom access_log_format set while serving switches the request handler.
        if self.access_mode_changed not in _log.access_mode_listeners:
            _log.access_mode_listeners.append(self.access_mode_changed)
        _running.append(self)
        for i in range(core.thread_pool):
            t = threading.Thread(
                target=self._thread_main,
                args=(core, self.handler),
                name=f"CP Server Thread-{i}",
                daemon=True,
            )
            t.start()
            self.threads.append(t)

    def _thread_main(self, core: Any, handler: AppRouter) -> None:
        """A worker thread's life: serve (``handler`` publishes ``acquire_thread``
        before the thread's first request), then ``release_thread`` if it served."""
        bus = self.bus
        setattr(threading.current_thread(), SERVING_ATTR, True)
        try:
            core.run_worker(handler, self._report)
        finally:
            ident = threading.get_ident()
            if bus is not None and ident in handler.acquired:
                handler.acquired.discard(ident)
                bus.publish("release_thread")

    def _set_mounts(self, core: Any) -> None:
        """Give the Rust router the mount points and the static routes compiled from
        the applications' config."""
        ordered = self.tree.ordered()
        statics, sections = compile_routes(ordered, self.global_config)
        core.set_mounts([name for name, _app in ordered], statics, sections)

    def _tls_arguments(self) -> dict[str, Any]:
        """The ``_core.Server`` keyword arguments for TLS and HTTP/2."""
        s = self.settings

        def path(key: str) -> str | None:
            value = s[key]
            return None if value in (None, "") else str(value)

        return {
            "ssl_certificate": path("ssl_certificate"),
            "ssl_private_key": path("ssl_private_key"),
            "ssl_certificate_chain": path("ssl_certificate_chain"),
            "ssl_client_ca": path("ssl_client_ca"),
            "ssl_verify_client": str(s["ssl_verify_client"] or "none"),
            "http2": s["http2"],
            "http2_max_concurrent_streams": int(s["http2_max_concurrent_streams"]),
            "debug_log": logging.getLogger("cherrypy.error").isEnabledFor(logging.DEBUG),
        }

    def _warn(self, message: str) -> None:
        if self.log_error is not None:
            self.log_error(message, severity=logging.WARNING)

    def graceful(self) -> None:
        """``engine.graceful()`` (SIGHUP): re-read the TLS certificate and key. New
        handshakes use the new files; open connections are not dropped. A file that
        cannot be used is logged and the previous certificate stays in use. Worker
        threads publish ``acquire_thread`` again at their next request."""
        if self.handler is not None:
            self.handler.acquired.clear()
        core = self.core
        if core is None or not core.tls:
            return
        try:
            warnings = core.reload_tls()
        except ValueError as exc:
            self._warn(f"TLS reload failed, still serving the previous certificate: {exc}")
            return
        for warning in warnings:
            self._warn(warning)
        if self.bus is not None:
            self.bus.log("TLS certificate reloaded")

    def _handlers(self) -> list[Any]:
        """One request handler per mount, in the Rust router's order: the native path
        for CherryPy applications, the WSGI gateway for grafts and for applications
        with a ``wsgi.pipeline`` (a static directory never reaches Python)."""
        ordered = self.tree.ordered()
        log = context.site.log
        handler_class = (
            AccessLoggingHandler
            if log is not None and log.access_needs_python()
            else RequestHandler
        )
        native = handler_class([app for _n, app in ordered], self.global_config, self.log_error)
        return [
            native
            if isinstance(app, StaticDirectory)
            or (isinstance(app, Application) and not app.wsgiapp.pipeline)
            else WSGIGateway(app, self.log_error, self.multiprocess)
            for _name, app in ordered
        ]

    def access_mode_changed(self) -> None:
        """``LogManager.access_log_format`` (or ``access``) changed: pick the request
        handler that writes the access log in Python, or the plain one again."""
        if self.core is None or self.handler is None:
            return
        self.handler.handlers = self._handlers()

    def remount(self) -> None:
        """Rebuild the routes after ``tree.mount`` or a config change while running."""
        if self.core is None or self.handler is None:
            return
        self.handler.handlers = self._handlers()
        self._set_mounts(self.core)

    def _report(self, message: str, exc: BaseException | None) -> None:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            # Raised by a handler: as in cheroot, the connection was dropped without a
            # response, and the server is interrupted (the engine exits).
            HTTPServerHandle(self).interrupt = exc
            return
        if exc is not None:
            message += "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.log_error(message, severity=40)

    def stop(self) -> None:
        """Graceful stop: in-flight requests finish (up to server.shutdown_timeout)."""
        core = self.core
        if core is None:
            return
        timeout = float(self.settings["shutdown_timeout"])
        started = time.monotonic()
        if not core.stop():
            cut = core.cut_requests
            if cut:
                self._warn(
                    f"server.shutdown_timeout ({timeout:g} s) ran out: cut {len(cut)} "
                    f"request(s) still in a handler: {'; '.join(cut)}"
                )
        # One deadline for every thread: a worker blocked in a handler is a daemon
        # thread and is left behind (its reply has nowhere to go).
        deadline = started + timeout + 1.0
        current = threading.current_thread()
        for t in self.threads:
            if t is not current:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
        self.threads = []
        if self.remount in self.tree.listeners:
            self.tree.listeners.remove(self.remount)
        listeners = getattr(self.global_config, "listeners", None)
        if listeners is not None and self.tree.clear_caches in listeners:
            listeners.remove(self.tree.clear_caches)
        if listeners is not None and self.remount in listeners:
            listeners.remove(self.remount)
        if self.access_mode_changed in _log.access_mode_listeners:
            _log.access_mode_listeners.remove(self.access_mode_changed)
        if self in _running:
            _running.remove(self)
        self.core = None
        self.handler = None
        self.bound_addr = None
        socket_file = self.settings["socket_file"]
        if socket_file and self.listener is None:
            # Ours alone (a master's workers share the master's): remove it.
            try:
                os.remove(socket_file)
            except OSError:
                pass

    def subscribe(self, bus: Any = None) -> None:
        """Serve while ``bus`` (by default the engine it was given before) is started."""
        if bus is None:
            bus = self.bus
        self.bus = bus
        bus.subscribe("start", self.start, priority=75)
        bus.subscribe("stop", self.stop, priority=25)
        bus.subscribe("graceful", self.graceful)

    def unsubscribe(self) -> None:
        if self.bus is not None:
            for channel, cb in (("start", self.start), ("stop", self.stop)):
                self.bus.unsubscribe(channel, cb)
            self.bus.unsubscribe("graceful", self.graceful)

    def describe(self) -> str:
        if self.settings["socket_file"]:
            return f"unix:{self.settings['socket_file']}"
        host, port = self.bound_addr
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{port}"
