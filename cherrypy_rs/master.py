"""The process options of the ``cherrypy-rs`` subcommands (``--workers``, ``--pid``,
``--user``...) and how they are applied: with plugins on the engine in a single
process, or by a master process (``arbiter.Arbiter``) that binds the sockets and
forks the workers.

Everything that can be wrong with the options (a user that does not exist, a PID file
that cannot be written, a port in use) fails here, in the master, before any worker
starts, with a message that names the value.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .arbiter import Arbiter, Settings
from .cli import CLIError
from .process import plugins


@dataclass
class Options:
    """The process options, resolved."""

    workers: int | None = None
    settings: Settings | None = None
    preload: bool = False
    pid: str | None = None
    daemon: bool = False
    uid: int | None = None
    gid: int | None = None
    umask: int | None = None
    reload: bool = False
    error_log: str | None = None
    reuse_port: bool = False

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
        import cherrypy_rs

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

    def single_process_plugins(self) -> None:
        """Subscribe the PID file, privilege and autoreload plugins to the engine."""
        import cherrypy_rs

        engine = cherrypy_rs.engine
        if self.pid:
            plugins.PIDFile(engine, self.pid).subscribe()
        if self.uid is not None or self.gid is not None or self.umask is not None:
            drop = plugins.DropPrivileges(engine, umask=self.umask)
            drop._uid, drop._gid = self.uid, self.gid
            drop.subscribe()
        if self.reload:
            engine.autoreload.subscribe()


def _number(flag: str, value: float, minimum: float = 0) -> None:
    if value < minimum:
        raise CLIError(f"{flag} {value:g}: must be at least {minimum:g}")


def options_from_args(args: argparse.Namespace) -> Options:
    """Check the process flags and apply those that act at once (--chdir, --umask,
    the error log); the rest is applied by ``run`` or ``single_process_plugins``."""
    import cherrypy_rs

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
        cherrypy_rs.config.update({"log.error_file": options.error_log})
    if args.log_level:
        cherrypy_rs.log.error_log.setLevel(getattr(logging, args.log_level.upper()))
    if options.reload and args.config:
        cherrypy_rs.engine.autoreload.files.add(os.path.abspath(args.config))
    return options


def _master_log(message: str, level: int) -> None:
    import cherrypy_rs

    cherrypy_rs.log.error(message, "MASTER", severity=level)


def run(options: Options, load: Callable[[], None]) -> int:
    """Bind, (preload,) daemonize, write the PID file, then fork and supervise the
    workers until stopped; returns the exit status."""
    import cherrypy_rs

    from . import _core
    from ._server import ConfigError

    settings = options.settings
    assert settings is not None
    server = cherrypy_rs.server
    servers = [server, *server.extras.values()]
    for srv in servers:
        try:
            srv.validate()
        except ConfigError as exc:
            raise CLIError(str(exc)) from None
    for srv in servers:
        host, port = srv.bind_addr
        try:
            socket_file = srv.settings["socket_file"]
            # With --reuse-port the master only reserves the port (a socket that does
            # not listen gets no connection); each worker listens on its own.
            per_worker = options.reuse_port and not socket_file
            srv.listener = _core.Listener(
                str(host),
                int(port),
                int(srv.settings["socket_queue_size"]),
                socket_file=str(socket_file) if socket_file else None,
                reuse_port=per_worker,
                listen=not per_worker,
            )
        except OSError as exc:
            for other in servers:
                if other.listener is not None:
                    other.listener.close()
            raise CLIError(str(exc)) from None
        srv.multiprocess = settings.workers > 1
        srv.track_busy = bool(settings.timeout)
        srv.settings["shutdown_timeout"] = settings.graceful_timeout
        bound = srv.listener.address
        srv.bound_addr = bound
        _master_log(f"Listening at {srv.describe()} (master {os.getpid()})", logging.INFO)
        srv.bound_addr = None
    if options.preload:
        load()
        gc.freeze()
    if options.daemon:
        log_file = options.error_log or "/dev/null"
        plugins.daemonize("/dev/null", log_file, log_file)
    if options.pid:
        try:
            plugins.write_pidfile(options.pid)
        except (OSError, ValueError) as exc:
            raise CLIError(str(exc)) from None

    def boot() -> Any:
        if options.reuse_port:
            # Before dropping privileges: SO_REUSEPORT sockets must share an owner.
            for srv in servers:
                if srv.listener is not None and not srv.listener.socket_file:
                    reserved = srv.listener
                    host, port = reserved.address
                    srv.listener = _core.Listener(
                        host,
                        port,
                        int(srv.settings["socket_queue_size"]),
                        reuse_port=True,
                    )
                    reserved.close()
        plugins.drop_privileges(options.uid, options.gid, None)
        # The engine's lines say which worker wrote them.
        engine = cherrypy_rs.engine
        context = f"ENGINE {os.getpid()}"
        engine.unsubscribe("log", cherrypy_rs._log_engine)
        engine.subscribe(
            "log", lambda msg, level=20: cherrypy_rs.log.error(msg, context, severity=level)
        )
        if not options.preload:
            try:
                load()
            except CLIError as exc:
                print(f"cherrypy-rs: error: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
        try:
            engine.start()
        except cherrypy_rs.ChannelFailures as exc:
            if all(getattr(e, "quiet", False) for e in exc.get_instances()):
                raise SystemExit(1) from None
            raise
        # A worker never re-executes itself: a changed file (--reload, or
        # engine.autoreload.on in the config) asks the master for a rolling reload.
        engine.autoreload.on_change = lambda filename: arbiter.notify(b"H")
        if options.reload:
            engine.autoreload.subscribe()
        return engine, server

    def on_exit() -> None:
        for srv in servers:
            if srv.listener is not None:
                srv.listener.close()
                if srv.listener.socket_file:
                    try:
                        os.remove(srv.listener.socket_file)
                    except OSError:
                        pass
        if options.pid:
            plugins.remove_pidfile(options.pid)

    arbiter = Arbiter(settings, boot, _master_log, on_exit, reload=options.reload)
    return arbiter.run()


def quickstart_workers(load: Callable[[], None]) -> int:
    """``quickstart()`` with ``server.workers`` > 1: the application is already
    imported, so it is mounted in the master (as --preload) and the workers fork."""
    options = Options(settings=Settings(), preload=True)
    try:
        options.finish_config()
        return run(options, load)
    except CLIError as exc:
        print(f"cherrypy_rs: error: {exc}", file=sys.stderr)
        return 2
