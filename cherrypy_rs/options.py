"""The command-line options of the ``cherrypy-rs`` subcommands and their translation to
config: the argparse definitions of the server flags (``--bind``, ``--threads``, TLS,
proxies, logs) and of the process flags (``--workers``, ``--pid``, ``--user``...),
gunicorn's spellings among them, and how each becomes a ``server.*`` / ``log.*`` key or
a field of ``Options``.

Everything that can be wrong with the options (a user that does not exist, a PID file
that cannot be written, a port in use) fails here, before any worker starts, as a
``CLIError``: one line naming the value, exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import cherrypy_rs

from . import _core
from ._server import ConfigError, Server
from .process import plugins


class CLIError(Exception):
    """A usage error: printed as one line, exit status 2."""


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

#: The command's --forwarded-allow-ips when neither it, FORWARDED_ALLOW_IPS nor the
#: config set it (gunicorn's default): a proxy on this machine.
FORWARDED_ALLOW_IPS_DEFAULT = "127.0.0.1,::1"


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``[::1]:PORT`` → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep:
        raise CLIError(f"--bind {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise CLIError(f"--bind {value!r}: the port {port!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise CLIError(f"--bind {value!r}: the port must be between 0 and 65535")
    return host, number


# -- argparse definitions --------------------------------------------------------------


def add_server_arguments(
    p: argparse.ArgumentParser,
    default_bind: str | None,
    mount: str,
    threads_help: str = "Python worker threads (server.thread_pool)",
) -> None:
    """The flags every subcommand takes: addresses, threads, config, logs, limits, TLS,
    proxies, and the process flags."""
    # No default list here: argparse's "append" adds to a default, so a default of
    # [8080] plus --bind 8080 would bind 8080 twice; the default applies only when
    # no --bind is given (see apply_server_args).
    p.add_argument(
        "--bind",
        "-b",
        action="append",
        default=None,
        help="HOST:PORT (or unix:PATH) to listen on (default: "
        + (default_bind or "server.socket_host/port, 127.0.0.1:8080")
        + "); repeat it to listen on several addresses",
    )
    p.set_defaults(default_bind=default_bind)
    p.add_argument("--threads", type=int, help=threads_help)
    p.add_argument("--config", "-c", help="a CherryPy config file (INI with Python literals)")
    p.add_argument(
        "--access-log",
        "--access-logfile",
        help="append the access log to this file ('-': standard output); "
        "no access log unless asked for (or set by log.access_file / log.screen in --config)",
    )
    p.add_argument(mount, default="", help="serve under this prefix (default: the root)")
    limits = p.add_argument_group("limits (gunicorn's names accepted too)")
    limits.add_argument(
        "--keep-alive",
        "--socket-timeout",
        dest="socket_timeout",
        type=float,
        help="seconds to wait for a request head, a body read, or the next request on an "
        "idle connection (server.socket_timeout, default 10)",
    )
    limits.add_argument(
        "--limit-request-field_size",
        "--limit-request-field-size",
        "--max-request-header-size",
        dest="max_header_size",
        type=int,
        help="bytes a request head may take (server.max_request_header_size; 431 beyond)",
    )
    limits.add_argument(
        "--limit-request-line",
        dest="max_request_line",
        type=int,
        help="bytes of the request line, 414 beyond (server.max_request_line; default 0: "
        "only the head's size limit)",
    )
    limits.add_argument(
        "--limit-request-fields",
        dest="max_headers",
        type=int,
        help="header lines a request may carry (server.max_headers, default 100)",
    )
    limits.add_argument(
        "--limit-request-body",
        dest="max_body_size",
        type=int,
        help="bytes a request body may take, 0 for no limit (server.max_request_body_size)",
    )
    _add_process_arguments(p)
    tls = p.add_argument_group("TLS and HTTP/2")
    tls.add_argument(
        "--certfile", help="serve HTTPS with this PEM certificate (server.ssl_certificate)"
    )
    tls.add_argument(
        "--keyfile", help="the certificate's unencrypted PEM key (server.ssl_private_key)"
    )
    tls.add_argument(
        "--ca-certs",
        help="PEM intermediate certificates sent after the certificate "
        "(server.ssl_certificate_chain)",
    )
    tls.add_argument("--client-ca", help="PEM CAs that client certificates must chain to (mTLS)")
    tls.add_argument(
        "--verify-client",
        choices=("none", "optional", "required"),
        help="ask for client certificates (server.ssl_verify_client; needs --client-ca)",
    )
    tls.add_argument(
        "--http2",
        action="store_true",
        help="also accept HTTP/2 with prior knowledge (h2c) on plain TCP (server.http2)",
    )
    proxy = p.add_argument_group("behind a proxy")
    proxy.add_argument(
        "--forwarded-allow-ips",
        help="comma-separated addresses or networks of the proxies whose Forwarded / "
        "X-Forwarded-For/Proto/Host headers are trusted, '*' for any, '' for none "
        "(server.forwarded_allow_ips; default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)",
    )
    proxy.add_argument(
        "--proxy-protocol",
        action="store_true",
        help="trusted peers open each connection with a HAProxy PROXY header, v1 or v2 "
        "(server.proxy_protocol)",
    )


def _add_process_arguments(p: argparse.ArgumentParser) -> None:
    """The process-model flags, with gunicorn's names."""
    g = p.add_argument_group("processes (gunicorn's flag names)")
    g.add_argument(
        "--workers",
        "-w",
        type=int,
        help="run a master and N worker processes (server.workers; default: one process)",
    )
    g.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        help="seconds in-flight requests may take to finish at stop or reload (default 30)",
    )
    g.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="replace a worker whose Python threads are all busy for longer than S "
        "seconds (default 0: never)",
    )
    g.add_argument("--max-requests", type=int, default=0, help="replace a worker after N requests")
    g.add_argument(
        "--max-requests-jitter",
        type=int,
        default=0,
        help="add a random 0..J to --max-requests, per worker",
    )
    g.add_argument(
        "--max-lifetime", type=float, default=0.0, help="replace a worker after S seconds"
    )
    g.add_argument(
        "--max-lifetime-jitter",
        type=float,
        default=0.0,
        help="add a random 0..J seconds to --max-lifetime, per worker",
    )
    g.add_argument(
        "--preload",
        action="store_true",
        help="import the application in the master before forking (workers share memory)",
    )
    g.add_argument(
        "--reuse-port",
        action="store_true",
        help="each worker listens on its own SO_REUSEPORT socket (Linux) instead of "
        "sharing the master's; a reload then resets the connections queued on a worker "
        "that exits unless net.ipv4.tcp_migrate_req=1",
    )
    g.add_argument("--pid", help="write the master's PID to this file")
    g.add_argument(
        "--daemon", "-D", action="store_true", help="detach from the terminal (implies a master)"
    )
    g.add_argument("--user", "-u", help="run workers as this user (name or uid)")
    g.add_argument("--group", "-g", help="run workers as this group (name or gid)")
    g.add_argument("--umask", help="file mode creation mask, e.g. 0o022 or 18")
    g.add_argument("--chdir", help="change to this directory before loading the application")
    g.add_argument(
        "--reload",
        action="store_true",
        help="restart (reload the workers) when an imported module or the config changes",
    )
    g.add_argument(
        "--error-log",
        "--error-logfile",
        help="append the error log to this file ('-': stderr, the default)",
    )
    g.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        help="the error log's level, any case (default: info); debug also prints the "
        "traceback of an application that fails to import",
    )


# -- translation to config -------------------------------------------------------------


def apply_server_args(args: argparse.Namespace) -> None:
    """Set the ``server.*`` and ``log.*`` keys the flags name (after --config, so the
    command line wins); extra ``--bind`` addresses become extra servers."""
    settings: dict[str, Any] = {}
    binds = args.bind or ([args.default_bind] if getattr(args, "default_bind", None) else [])
    if isinstance(binds, str):
        binds = [binds]
    for i, bind in enumerate(binds):
        prefix = "server." if i == 0 else f"server.bind{i}."
        if bind.startswith("unix:"):
            path = bind[len("unix:") :]
            if not path:
                raise CLIError(f"--bind {bind!r}: expected unix:PATH, e.g. unix:/run/app.sock")
            settings[prefix + "socket_file"] = os.path.abspath(path)
            continue
        host, port = parse_bind(bind)
        settings[prefix + "socket_host"] = host
        settings[prefix + "socket_port"] = port
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError("--threads must be at least 1")
        settings["server.thread_pool"] = args.threads
    if args.access_log == "-":
        cherrypy_rs.server.access_log_screen = True
    elif args.access_log:
        settings["log.access_file"] = os.path.abspath(args.access_log)
    for flag, key in (
        ("socket_timeout", "server.socket_timeout"),
        ("max_header_size", "server.max_request_header_size"),
        ("max_headers", "server.max_headers"),
        ("max_request_line", "server.max_request_line"),
        ("max_body_size", "server.max_request_body_size"),
        ("certfile", "server.ssl_certificate"),
        ("keyfile", "server.ssl_private_key"),
        ("ca_certs", "server.ssl_certificate_chain"),
        ("client_ca", "server.ssl_client_ca"),
        ("verify_client", "server.ssl_verify_client"),
        ("forwarded_allow_ips", "server.forwarded_allow_ips"),
    ):
        value = getattr(args, flag, None)
        # "" is a value only for the allow list (trust no one).
        if value is not None and (value != "" or flag == "forwarded_allow_ips"):
            settings[key] = value
    if getattr(args, "http2", False):
        settings["server.http2"] = True
    if getattr(args, "proxy_protocol", False):
        settings["server.proxy_protocol"] = True
    if "server.forwarded_allow_ips" not in settings and (
        cherrypy_rs.server.settings["forwarded_allow_ips"] is None
    ):
        # The command follows gunicorn: proxies on this machine are trusted unless
        # --forwarded-allow-ips, FORWARDED_ALLOW_IPS or the config file say otherwise.
        settings["server.forwarded_allow_ips"] = os.environ.get(
            "FORWARDED_ALLOW_IPS", FORWARDED_ALLOW_IPS_DEFAULT
        )
    cherrypy_rs.config.update(settings)
    server = cherrypy_rs.server
    for i in range(1, len(binds)):
        # Extra --bind addresses serve like the first one (server.<name>.* sections of
        # the config keep their own keys).
        extra = server.extra(f"bind{i}")
        for key, value in server.settings.items():
            if key not in ("socket_host", "socket_port", "socket_file"):
                extra.settings[key] = value


def apply_config_file(filename: str | None) -> None:
    """``--config FILE`` into the global config, any error as one line."""
    if not filename:
        return
    if not os.path.isfile(filename):
        raise CLIError(f"--config {filename!r}: no such file")
    try:
        cherrypy_rs.config.update(filename)
    except (ValueError, SyntaxError, TypeError, KeyError, AttributeError, OSError) as exc:
        raise CLIError(f"--config {filename!r}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# -- help formatting ---------------------------------------------------------------------


def _terminal_width() -> int:
    """``shutil.get_terminal_size().columns`` (``COLUMNS``, else the terminal's, else
    80) without importing shutil, which argparse's formatter does at every parser built
    (with bz2 and lzma: ~1 MiB in each process started through the CLI)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, its width found without shutil (``_terminal_width``)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog,
            indent_increment,
            max_help_position,
            _terminal_width() - 2 if width is None else width,
        )


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``argparse.RawDescriptionHelpFormatter`` with ``HelpFormatter``'s width."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with ``HelpFormatter`` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


# -- process options ---------------------------------------------------------------------


class _Record:
    """Keyword fields with defaults, compared and shown by value (what these records
    need of a dataclass: ``dataclasses`` imports ``inspect``, ~2.6 MiB in every
    process that starts through the CLI)."""

    __slots__: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}

    def __init__(self, **fields: Any) -> None:
        unknown = fields.keys() - self._defaults.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown field(s) {sorted(unknown)}")
        for name, default in self._defaults.items():
            setattr(self, name, fields.get(name, default))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._defaults)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._defaults)
        return f"{type(self).__name__}({fields})"


class Settings(_Record):
    """What the master does with its workers (the gunicorn-named flags)."""

    workers: int
    graceful_timeout: float
    timeout: float
    max_requests: int
    max_requests_jitter: int
    max_lifetime: float
    max_lifetime_jitter: float
    _defaults = {
        "workers": 1,
        "graceful_timeout": 30.0,
        "timeout": 0.0,
        "max_requests": 0,
        "max_requests_jitter": 0,
        "max_lifetime": 0.0,
        "max_lifetime_jitter": 0.0,
    }
    __slots__ = tuple(_defaults)


class Options(_Record):
    """The process options, resolved."""

    workers: int | None
    settings: Settings | None
    preload: bool
    pid: str | None
    daemon: bool
    uid: int | None
    gid: int | None
    umask: int | None
    reload: bool
    error_log: str | None
    reuse_port: bool
    log_level: str | None
    _defaults = {
        "workers": None,
        "settings": None,
        "preload": False,
        "pid": None,
        "daemon": False,
        "uid": None,
        "gid": None,
        "umask": None,
        "reload": False,
        "error_log": None,
        "reuse_port": False,
        "log_level": None,
    }
    __slots__ = tuple(_defaults)

    @property
    def multiprocess(self) -> bool:
        """Whether a master forks workers (any worker-related option asks for one)."""
        s = self.settings
        assert s is not None
        return (
            self.workers is not None
            or self.daemon
            or self.preload
            or self.reuse_port
            or bool(s.timeout or s.max_requests or s.max_lifetime)
        )

    def finish_config(self) -> None:
        """Read ``server.workers`` from the config when ``--workers`` was not given,
        and check the worker options."""
        if self.workers is None:
            configured = cherrypy_rs.server.process.get("workers", 1)
            try:
                configured = int(configured)
            except (TypeError, ValueError):
                raise CLIError(f"server.workers = {configured!r}: expected a number") from None
            if configured != 1:
                self.workers = configured
        if self.workers is not None and self.workers < 1:
            raise CLIError(f"--workers {self.workers}: the number of workers must be at least 1")
        if self.settings is not None:
            self.settings.workers = self.workers or 1
        if self.reload and self.preload:
            raise CLIError("--reload cannot be used with --preload: the master would not re-import")

    def servers(self) -> list[Server]:
        """The configured servers (``server`` and its extras), each checked."""
        server = cherrypy_rs.server
        servers = [server, *server.extras.values()]
        for srv in servers:
            try:
                srv.check()
            except ConfigError as exc:
                raise CLIError(str(exc)) from None
        return servers

    def bind(self) -> list[Server]:
        """Bind every configured address before anything else starts (a port in use is
        one line naming it); each server then serves its ``listener``."""
        servers = self.servers()
        for srv in servers:
            host, port = srv.bind_addr
            try:
                socket_file = srv.settings["socket_file"]
                # With --reuse-port the master only reserves the port (a socket that does
                # not listen gets no connection); each worker listens on its own.
                per_worker = self.reuse_port and not socket_file
                srv.listener = _core.Listener(
                    str(host),
                    int(port),
                    int(srv.settings["socket_queue_size"]),
                    socket_file=str(socket_file) if socket_file else None,
                    reuse_port=per_worker,
                    listen=not per_worker,
                )
            except (OSError, ValueError) as exc:
                close_listeners(servers)
                raise CLIError(str(exc)) from None
        return servers

    def single_process_plugins(self) -> None:
        """Subscribe the PID file, privilege and autoreload plugins to the engine."""
        engine = cherrypy_rs.engine
        if self.pid:
            plugins.PIDFile(engine, self.pid).subscribe()
        if self.uid is not None or self.gid is not None or self.umask is not None:
            drop = plugins.DropPrivileges(engine, umask=self.umask)
            drop._uid, drop._gid = self.uid, self.gid
            drop.subscribe()
        if self.reload:
            engine.autoreload.subscribe()


def close_listeners(servers: list[Server]) -> None:
    """Close the sockets ``Options.bind`` opened (and remove Unix socket files)."""
    for srv in servers:
        listener = srv.listener
        if listener is None:
            continue
        listener.close()
        if listener.socket_file:
            try:
                os.remove(listener.socket_file)
            except OSError:
                pass
        srv.listener = None


def _number(flag: str, value: float, minimum: float = 0) -> None:
    if value < minimum:
        raise CLIError(f"{flag} {value:g}: must be at least {minimum:g}")


def options_from_args(args: argparse.Namespace) -> Options:
    """Check the process flags and apply those that act at once (--chdir, --umask,
    the error log); the rest is applied by ``master.run`` or ``single_process_plugins``."""
    for flag in ("graceful_timeout", "timeout", "max_lifetime", "max_lifetime_jitter"):
        _number("--" + flag.replace("_", "-"), getattr(args, flag))
    for flag in ("max_requests", "max_requests_jitter"):
        _number("--" + flag.replace("_", "-"), getattr(args, flag))
    options = Options(
        workers=args.workers,
        settings=Settings(
            graceful_timeout=args.graceful_timeout,
            timeout=args.timeout,
            max_requests=args.max_requests,
            max_requests_jitter=args.max_requests_jitter,
            max_lifetime=args.max_lifetime,
            max_lifetime_jitter=args.max_lifetime_jitter,
        ),
        preload=args.preload,
        pid=os.path.abspath(args.pid) if args.pid else None,
        daemon=args.daemon,
        reload=args.reload,
        reuse_port=args.reuse_port,
        log_level=args.log_level,
    )
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers {args.workers}: the number of workers must be at least 1")
    try:
        options.uid = plugins.resolve_uid(args.user)
        options.gid = plugins.resolve_gid(args.group)
    except ValueError as exc:
        raise CLIError(f"--{'user' if 'user' in str(exc) else 'group'}: {exc}") from None
    if args.umask is not None:
        try:
            options.umask = int(args.umask, 0)
        except ValueError:
            raise CLIError(f"--umask {args.umask!r}: expected a number, e.g. 0o022") from None
    if options.pid:
        try:
            plugins.check_pidfile(options.pid)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as exc:
            raise CLIError(f"--chdir {args.chdir!r}: {exc.strerror}") from None
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
    if options.umask is not None:
        os.umask(options.umask)
    if args.error_log and args.error_log != "-":
        options.error_log = os.path.abspath(args.error_log)
        try:
            cherrypy_rs.config.update({"log.error_file": options.error_log})
        except OSError as exc:
            raise CLIError(f"--error-log {args.error_log!r}: {exc.strerror}") from None
    if args.log_level:
        cherrypy_rs.log.error_log.setLevel(getattr(logging, args.log_level.upper()))
    if options.reload and args.config:
        cherrypy_rs.engine.autoreload.files.add(os.path.abspath(args.config))
    return options
