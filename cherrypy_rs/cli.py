"""The ``cherrypy-rs`` command.

    cherrypy-rs run module:attr [--bind HOST:PORT] [--threads N] [--config FILE]
    cherrypy-rs demo [--bind HOST:PORT]

``run`` quickstarts an object (``attr`` may be a class, instantiated without arguments,
or an instance) the way ``cherrypy.quickstart`` does; ``demo`` serves the demo site.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any


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


def load_object(spec: str) -> Any:
    """Import ``module:attr`` (attr may be dotted); a class is instantiated."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"{spec!r}: expected module:attr, e.g. myapp:Root")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CLIError(
                f"cannot import module {module_name!r} (from {spec!r}): no such module "
                f"on sys.path (run from the directory that contains it)"
            ) from None
        raise
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(
                f"module {module_name!r} has no attribute {attr!r} (from {spec!r})"
            ) from None
    if isinstance(obj, type):
        obj = obj()
    return obj


def _serve(root: Any, args: argparse.Namespace, app_config: Any = None) -> int:
    """Apply the command-line settings over the config, then quickstart ``root``."""
    import cherrypy_rs

    if args.config:
        cherrypy_rs.config.update(args.config)
        app_config = args.config
    settings: dict[str, Any] = {}
    if args.bind:
        host, port = parse_bind(args.bind)
        settings["server.socket_host"] = host
        settings["server.socket_port"] = port
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError("--threads must be at least 1")
        settings["server.thread_pool"] = args.threads
    if args.access_log:
        settings["log.access_file"] = args.access_log
    cherrypy_rs.config.update(settings)
    cherrypy_rs.quickstart(root, args.script_name, app_config)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cherrypy-rs", description="CherryPy applications on a Rust HTTP server."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, default_bind: str | None) -> None:
        p.add_argument(
            "--bind",
            "-b",
            default=default_bind,
            help="HOST:PORT to listen on (default: server.socket_host/port, 127.0.0.1:8080)",
        )
        p.add_argument("--threads", type=int, help="Python worker threads (server.thread_pool)")
        p.add_argument("--config", "-c", help="a CherryPy config file (INI with Python literals)")
        p.add_argument("--access-log", help="append the access log to this file")
        p.add_argument("--script-name", default="", help="mount point (default: the root)")

    run = sub.add_parser("run", help="quickstart module:attr (a class or an instance)")
    run.add_argument("target", help="module:attr, e.g. myapp:Root")
    common(run, None)
    demo = sub.add_parser("demo", help="serve the demo site on 127.0.0.1:8080")
    common(demo, "127.0.0.1:8080")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cherrypy-rs`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _serve(load_object(args.target), args)
        from .demo import DemoRoot, demo_config

        return _serve(DemoRoot(), args, demo_config())
    except CLIError as exc:
        print(f"cherrypy-rs: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
