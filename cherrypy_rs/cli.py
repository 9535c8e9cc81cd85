"""The ``cherrypy-rs`` command.

    cherrypy-rs run module:attr [--bind HOST:PORT] [--threads N] [--config FILE]
    cherrypy-rs wsgi module:app [--bind HOST:PORT] [--threads N] [--root-path /prefix]
    cherrypy-rs static DIR [--bind HOST:PORT] [--index index.html] [--listing] [--threads N]
    cherrypy-rs demo [--bind HOST:PORT]

Every command takes the TLS options: ``--certfile FILE --keyfile FILE`` serve HTTPS
(HTTP/2 through ALPN included), ``--ca-certs FILE`` adds the intermediate certificates,
``--client-ca FILE --verify-client required`` asks for client certificates, and
``--http2`` also accepts HTTP/2 with prior knowledge (h2c) on plain TCP.

``run`` quickstarts an object (``attr`` may be a class, instantiated without arguments,
or an instance) the way ``cherrypy.quickstart`` does; ``wsgi`` serves any WSGI
application (``module:app``, ``module:create_app()``, or ``module`` holding
``application`` or ``app``, as gunicorn accepts); ``static`` serves a directory from
Rust alone; ``demo`` serves the demo site.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .config_check import ConfigError
from .lib.reprconf import ConfigFileError


class CLIError(Exception):
    """A usage error: printed as one line, exit status 2."""


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


def _import(module_name: str, spec: str) -> Any:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CLIError(
                f"cannot import module {module_name!r} (from {spec!r}): no such module "
                f"on sys.path (run from the directory that contains it)"
            ) from None
        raise


def load_object(spec: str, instantiate: bool = True) -> Any:
    """Import ``module:attr`` (attr may be dotted); a class is instantiated."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"{spec!r}: expected module:attr, e.g. myapp:Root")
    module = _import(module_name, spec)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(
                f"module {module_name!r} has no attribute {attr!r} (from {spec!r})"
            ) from None
    if instantiate and isinstance(obj, type):
        obj = obj()
    return obj


def load_wsgi(spec: str) -> Any:
    """Import a WSGI application: ``module:app``, ``module:factory()`` or ``module``."""
    module_name, sep, attr = spec.partition(":")
    if not module_name:
        raise CLIError(f"{spec!r}: expected module:app, e.g. myproject.wsgi:application")
    call = attr.endswith("()")
    if call:
        attr = attr[:-2]
    if not sep:
        module = _import(module_name, spec)
        for name in ("application", "app"):
            if hasattr(module, name):
                return _check_wsgi(getattr(module, name), f"{module_name}:{name}")
        raise CLIError(
            f"module {module_name!r} has no 'application' or 'app' (from {spec!r}): "
            "name the attribute, e.g. module:app"
        )
    obj = load_object(f"{module_name}:{attr}", instantiate=False)
    if call:
        try:
            obj = obj()
        except TypeError as exc:
            raise CLIError(f"calling the factory {spec!r} failed: {exc}") from None
    return _check_wsgi(obj, spec)


def _check_wsgi(obj: Any, spec: str) -> Any:
    if not callable(obj):
        raise CLIError(f"{spec!r} is not a WSGI callable (got {type(obj).__name__})")
    return obj


def _configure_wsgi(args: argparse.Namespace) -> None:
    import cherrypy_rs

    if args.config:
        cherrypy_rs.config.update(args.config)
    # As gunicorn: no access log unless asked for (--access-log FILE, "-" for stdout);
    # errors still go to the screen.
    cherrypy_rs.server.access_log_screen = args.access_log == "-"
    if args.access_log == "-":
        args.access_log = None
    _apply_server_args(args)


def _configure_static(args: argparse.Namespace) -> None:
    """A production static-file server: no Python runs per request."""
    import cherrypy_rs

    if not os.path.isdir(args.directory):
        raise CLIError(f"{args.directory!r} is not a directory")
    if args.cache_valid < 0:
        raise CLIError("--cache-valid must be a number of seconds >= 0")
    if args.config:
        cherrypy_rs.config.update(args.config)
    cherrypy_rs.server.access_log_screen = args.access_log == "-"
    if args.access_log == "-":
        args.access_log = None
    threads, args.threads = args.threads, None
    _apply_server_args(args)
    settings: dict[str, Any] = {"server.thread_pool": 1}
    if threads is not None:
        if threads < 1:
            raise CLIError("--threads must be at least 1")
        settings["server.io_threads"] = threads
    cherrypy_rs.config.update(settings)
    headers = [("Server", f"cherrypy-rs/{cherrypy_rs.__version__}")]
    cherrypy_rs.tree.serve_dir(
        args.directory,
        args.prefix,
        index=args.index or None,
        listing=args.listing,
        dotfiles=args.dotfiles,
        precompressed=args.precompressed,
        cache_valid=args.cache_valid,
        headers=headers,
    )


def _run_engine() -> int:
    import cherrypy_rs

    engine = cherrypy_rs.engine
    engine.signals.subscribe()
    try:
        engine.start()
        engine.block()
    except cherrypy_rs.ChannelFailures as exc:
        if all(getattr(e, "quiet", False) for e in exc.get_instances()):
            return 1
        raise
    except KeyboardInterrupt:
        engine.log("Keyboard Interrupt: shutting down bus")
        engine.exit()
    except SystemExit:
        # SIGTERM before block() took over: the same graceful stop.
        if engine.state not in (engine.states.EXITING, engine.states.STOPPED):
            engine.exit()
        raise
    return 0


def _apply_server_args(args: argparse.Namespace) -> None:
    import cherrypy_rs

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
    if args.access_log:
        settings["log.access_file"] = args.access_log
    for flag, key in (
        ("certfile", "server.ssl_certificate"),
        ("keyfile", "server.ssl_private_key"),
        ("ca_certs", "server.ssl_certificate_chain"),
        ("client_ca", "server.ssl_client_ca"),
        ("verify_client", "server.ssl_verify_client"),
    ):
        value = getattr(args, flag, None)
        if value:
            settings[key] = value
    if getattr(args, "http2", False):
        settings["server.http2"] = True
    cherrypy_rs.config.update(settings)
    server = cherrypy_rs.server
    for i in range(1, len(binds)):
        # Extra --bind addresses serve like the first one (server.<name>.* sections of
        # the config keep their own keys).
        extra = server.extra(f"bind{i}")
        for key, value in server.settings.items():
            if key not in ("socket_host", "socket_port", "socket_file"):
                extra.settings[key] = value


def _configure_run(args: argparse.Namespace, app_config: Any = None) -> Any:
    """Apply the config file and the command-line settings; returns the app config."""
    import cherrypy_rs

    if app_config:
        cherrypy_rs.config.update(app_config)
    if args.config:
        cherrypy_rs.config.update(args.config)
        app_config = args.config
    _apply_server_args(args)
    return app_config


def _plan(args: argparse.Namespace) -> Callable[[], None]:
    """Configure the server from the arguments and return the function that imports
    and mounts the application (run in each worker, or in the master with --preload)."""
    import cherrypy_rs

    if args.command == "run":
        app_config = _configure_run(args)

        def load() -> None:
            cherrypy_rs.tree.mount(load_object(args.target), args.script_name, app_config)

        return load
    if args.command == "wsgi":
        _configure_wsgi(args)

        def load_graft() -> None:
            cherrypy_rs.tree.graft(load_wsgi(args.target), args.root_path)

        return load_graft
    if args.command == "static":
        _configure_static(args)
        return lambda: None
    from .demo import DemoRoot, demo_config, wsgi_app

    config = demo_config()
    config = _configure_run(args, config)

    def load_demo() -> None:
        cherrypy_rs.tree.graft(wsgi_app, "/wsgi")
        cherrypy_rs.tree.mount(DemoRoot(), args.script_name, config)

    return load_demo


def _process_arguments(p: argparse.ArgumentParser) -> None:
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
    g.add_argument("--error-log", help="append the error log to this file ('-': stderr)")
    g.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error", "critical"),
        help="the error log's level (default: info)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cherrypy-rs",
        description="CherryPy applications on a Rust HTTP server.",
        epilog="Without a subcommand, python -m cherrypy_rs takes cherryd's options: "
        "-c CONFIG, -d, -e ENVIRONMENT, -i MODULE, -p PIDFILE, -P PATH (see -c x --help).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(
        p: argparse.ArgumentParser,
        default_bind: str | None,
        mount: str,
        threads_help: str = "Python worker threads (server.thread_pool)",
    ) -> None:
        # No default list here: argparse's "append" adds to a default, so a default of
        # [8080] plus --bind 8080 would bind 8080 twice; the default applies only when
        # no --bind is given (see _apply_server_args).
        p.add_argument(
            "--bind",
            "-b",
            action="append",
            default=None,
            help="HOST:PORT to listen on (default: "
            + (default_bind or "server.socket_host/port, 127.0.0.1:8080")
            + "); repeat it to listen on several addresses",
        )
        p.set_defaults(default_bind=default_bind)
        p.add_argument("--threads", type=int, help=threads_help)
        p.add_argument("--config", "-c", help="a CherryPy config file (INI with Python literals)")
        p.add_argument(
            "--access-log", help="append the access log to this file ('-': standard output)"
        )
        p.add_argument(mount, default="", help="serve under this prefix (default: the root)")
        _process_arguments(p)
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
        tls.add_argument(
            "--client-ca", help="PEM CAs that client certificates must chain to (mTLS)"
        )
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

    run = sub.add_parser("run", help="quickstart module:attr (a class or an instance)")
    run.add_argument("target", help="module:attr, e.g. myapp:Root")
    common(run, None, "--script-name")
    wsgi = sub.add_parser("wsgi", help="serve a WSGI application (Flask, Django, ...)")
    wsgi.add_argument("target", help="module:app, module:create_app() or module")
    common(wsgi, None, "--root-path")
    static = sub.add_parser("static", help="serve a directory (Rust only, no Python per request)")
    static.add_argument("directory", help="the directory to serve")
    common(static, None, "--prefix", "I/O threads serving requests (server.io_threads)")
    static.add_argument(
        "--index",
        default="index.html",
        help="file served for a directory (default: index.html; '' for none)",
    )
    static.add_argument(
        "--listing", action="store_true", help="list directories that have no index file"
    )
    static.add_argument(
        "--dotfiles", action="store_true", help="serve names starting with '.' (off: 404)"
    )
    static.add_argument(
        "--precompressed",
        action="store_true",
        help="serve X.br / X.gz next to X to clients that accept them",
    )
    static.add_argument(
        "--cache-valid",
        type=float,
        default=1.0,
        help="seconds a cached file is served before it is checked on disk again (default 1)",
    )
    demo = sub.add_parser("demo", help="serve the demo site on 127.0.0.1:8080")
    common(demo, "127.0.0.1:8080", "--script-name")
    return parser


#: The subcommands; anything else first on the command line is cherryd's options.
SUBCOMMANDS = ("run", "wsgi", "static", "demo")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cherrypy-rs`` console script (and ``python -m cherrypy_rs``:
    without a subcommand, the arguments are cherryd's)."""
    if argv is None:
        argv = sys.argv[1:]
    if not argv or argv[0] not in (*SUBCOMMANDS, "-h", "--help"):
        if argv and argv[0] not in ("-h", "--help"):
            from .cherryd import main as cherryd_main

            return cherryd_main(argv)
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except (CLIError, ConfigFileError, ConfigError) as exc:
        print(f"cherrypy-rs: error: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    from . import master

    options = master.options_from_args(args)
    load = _plan(args)
    options.finish_config()
    if options.multiprocess:
        return master.run(options, load)
    load()
    options.single_process_plugins()
    return _run_engine()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
