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
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import cherrypy_rs

from . import _engine, cherryd, master
from .config_check import ConfigError
from .options import (
    ArgumentParser,
    CLIError,
    Options,
    RawDescriptionHelpFormatter,
    add_server_arguments,
    apply_config_file,
    apply_server_args,
    close_listeners,
    options_from_args,
)


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
        raise _import_error(module_name, exc) from None
    except Exception as exc:
        raise _import_error(module_name, exc) from None


def _import_error(module_name: str, exc: BaseException) -> CLIError:
    """One line for an application that fails to import; its traceback first with
    --log-level debug."""
    if logging.getLogger("cherrypy.error").isEnabledFor(logging.DEBUG):
        traceback.print_exception(exc, file=sys.stderr)
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}, line {exc.lineno})"
        message = f"SyntaxError: {exc.msg}{where}"
    else:
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            where = f" ({tb[-1].filename}, line {tb[-1].lineno})"
        message = f"{type(exc).__name__}: {' '.join(str(exc).split())}{where}"
    return CLIError(
        f"importing {module_name!r} failed: {message} (--log-level debug shows the traceback)"
    )


def _attribute(spec: str) -> Any:
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
    return obj


def _positional_parameters(obj: Any) -> list[str] | None:
    """The names of the positional parameters ``obj`` is called with, or None."""
    # Lazy: inspect costs ~2.6 MiB per process; only loading an application by name needs it.
    import inspect

    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in signature.parameters.values() if p.kind in kinds]


def _is_asgi(obj: Any) -> bool:
    # Lazy: inspect costs ~2.6 MiB per process; only loading an application by name needs it.
    import inspect

    if isinstance(obj, type) or not callable(obj):
        return False
    call = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else type(obj).__call__
    if inspect.iscoroutinefunction(call):
        return True
    params = _positional_parameters(obj)
    return params is not None and params[:3] == ["scope", "receive", "send"]


def _is_wsgi(obj: Any) -> bool:
    if isinstance(obj, (type, cherrypy_rs.Application)) or not callable(obj):
        # (An Application is a WSGI callable that tree.mount takes as it is.)
        return False
    if getattr(obj, "exposed", False):
        return False
    params = _positional_parameters(obj)
    return params is not None and len(params) == 2


#: Values that are never a CherryPy application root.
_NOT_AN_APP = (int, float, complex, str, bytes, bool, list, tuple, dict, set, type(None))


def load_object(spec: str, instantiate: bool = True) -> Any:
    """Import ``module:attr`` (attr may be dotted); a class is instantiated. What is
    not a CherryPy application (a number, a WSGI callable...) is refused."""
    # Lazy: inspect costs ~2.6 MiB per process; only loading an application by name needs it.
    import inspect

    obj = _attribute(spec)
    if isinstance(obj, _NOT_AN_APP) or inspect.ismodule(obj):
        raise CLIError(
            f"{spec!r} is {type(obj).__name__ if obj is not None else 'None'}, not a "
            "CherryPy application: name a class (instantiated without arguments) or an "
            "instance of one"
        )
    if _is_asgi(obj):
        raise CLIError(f"{spec!r} is an ASGI application: ASGI is not supported")
    if _is_wsgi(obj):
        raise CLIError(f"{spec!r} is a WSGI application: use `cherrypy-rs wsgi {spec}` to serve it")
    if instantiate and isinstance(obj, type):
        try:
            obj = obj()
        except TypeError as exc:
            raise CLIError(
                f"cannot create {spec!r} without arguments ({exc}): name an instance "
                "(module:instance) or give __init__'s parameters defaults"
            ) from None
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
    obj = _attribute(f"{module_name}:{attr}")
    if call:
        try:
            obj = obj()
        except TypeError as exc:
            raise CLIError(f"calling the factory {spec!r} failed: {exc}") from None
    return _check_wsgi(obj, spec)


def _check_wsgi(obj: Any, spec: str) -> Any:
    if not callable(obj):
        raise CLIError(f"{spec!r} is not a WSGI callable (got {type(obj).__name__})")
    if _is_asgi(obj):
        raise CLIError(
            f"{spec!r} is an ASGI application (async def app(scope, receive, send)): ASGI "
            "is not supported; cherrypy-rs wsgi serves WSGI (PEP 3333) applications"
        )
    return obj


def _configure_static(args: argparse.Namespace) -> None:
    """A production static-file server: no Python runs per request."""
    if not os.path.isdir(args.directory):
        raise CLIError(f"{args.directory!r} is not a directory")
    if args.cache_valid < 0:
        raise CLIError("--cache-valid must be a number of seconds >= 0")
    threads, args.threads = args.threads, None
    apply_server_args(args)
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


def _plan(args: argparse.Namespace) -> Callable[[], None]:
    """Configure the server from the arguments and return the function that imports
    and mounts the application (run in each worker, or in the master with --preload)."""
    # One rule for every subcommand (gunicorn's): no access log unless asked for, by
    # --access-log or by log.access_file / log.screen in the config.
    cherrypy_rs.server.access_log_screen = False
    app_config: Any = None
    if args.command == "demo":
        # Lazy: the demo site's modules (html) would cost every `run`/`static` process.
        from . import demo

        app_config = demo.demo_config()
        cherrypy_rs.config.update(app_config)
    apply_config_file(args.config)
    if args.config and args.command in ("run", "demo"):
        app_config = args.config
    if args.command == "static":
        _configure_static(args)
        return lambda: None
    apply_server_args(args)
    if args.command == "run":

        def load() -> None:
            cherrypy_rs.tree.mount(load_object(args.target), args.script_name, app_config)

        return load
    if args.command == "wsgi":

        def load_graft() -> None:
            cherrypy_rs.tree.graft(load_wsgi(args.target), args.root_path)

        return load_graft

    def load_demo() -> None:
        cherrypy_rs.tree.graft(demo.wsgi_app, "/wsgi")
        cherrypy_rs.tree.mount(demo.DemoRoot(), args.script_name, app_config)

    return load_demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cherrypy-rs",
        description="CherryPy applications on a Rust HTTP server.",
        formatter_class=RawDescriptionHelpFormatter,
        epilog="Without a subcommand, the options are cherryd's "
        "(python -m cherrypy_rs -i MODULE -c CONFIG):\n"
        + cherryd.options_help()
        + "\n'cherrypy-rs COMMAND --help' lists a subcommand's options.",
    )
    parser.add_argument(
        "--version", "-V", action="version", version=f"cherrypy-rs {cherrypy_rs.__version__}"
    )
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        parser_class=ArgumentParser,
    )
    run = sub.add_parser("run", help="quickstart module:attr (a class or an instance)")
    run.add_argument("target", help="module:attr, e.g. myapp:Root")
    add_server_arguments(run, None, "--script-name")
    wsgi = sub.add_parser("wsgi", help="serve a WSGI application (Flask, Django, ...)")
    wsgi.add_argument("target", help="module:app, module:create_app() or module")
    add_server_arguments(wsgi, None, "--root-path")
    static = sub.add_parser("static", help="serve a directory (Rust only, no Python per request)")
    static.add_argument("directory", help="the directory to serve")
    add_server_arguments(
        static, None, "--prefix", "I/O threads serving requests (server.io_threads)"
    )
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
    demo_parser = sub.add_parser("demo", help="serve the demo site on 127.0.0.1:8080")
    add_server_arguments(demo_parser, "127.0.0.1:8080", "--script-name")
    return parser


#: The subcommands; anything else first on the command line is cherryd's options.
SUBCOMMANDS = ("run", "wsgi", "static", "demo")

#: Options of the command itself (not cherryd's).
_OWN_OPTIONS = ("-h", "--help", "-V", "--version")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cherrypy-rs`` console script (and ``python -m cherrypy_rs``:
    without a subcommand, the arguments are cherryd's)."""
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] not in (*SUBCOMMANDS, *_OWN_OPTIONS):
        return cherryd.main(argv)
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except (CLIError, ConfigError) as exc:
        # ConfigError: a key nobody would honour, found when the application mounts.
        print(f"cherrypy-rs: error: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    load = _plan(args)
    options.finish_config()
    if options.multiprocess:
        return master.run(options, load)
    return _single_process(options, load)


def _single_process(options: Options, load: Callable[[], None]) -> int:
    """Bind first (a port in use is one line, before any engine line), import and
    mount the application, then run the engine in this process."""
    servers = options.bind()
    try:
        load()
        options.single_process_plugins()
        return _engine.run(cherrypy_rs.engine)
    finally:
        close_listeners(servers)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
