"""``python -m cherrypy_rs [options]``: CherryPy's ``cherryd`` — import modules that
mount applications, apply config files, optionally daemonize and write a PID file,
then run the engine.

    python -m cherrypy_rs -i myapp -c site.conf [-e production] [-d] [-p PIDFILE] [-P DIR]

The Python modules named by ``-i`` mount their applications on ``cherrypy_rs.tree``
when imported (as with cherryd). ``-f``/``-s`` (FastCGI, SCGI) are not offered: the
server is the Rust HTTP server.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import cherrypy_rs

from . import _engine
from .options import HelpFormatter
from .process import plugins


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cherrypy_rs",
        formatter_class=HelpFormatter,
        description="Run CherryPy applications like cherryd (or use a subcommand: "
        "run, wsgi, static, demo).",
    )
    p.add_argument("-c", "--config", action="append", default=[], help="a config file (repeatable)")
    p.add_argument("-d", action="store_true", dest="daemonize", help="run as a daemon")
    p.add_argument("-e", "--environment", help="apply the given config environment")
    p.add_argument(
        "-i", "--import", action="append", default=[], dest="imports", help="a module to import"
    )
    p.add_argument("-p", "--pidfile", help="store the process id in this file")
    p.add_argument(
        "-P", "--Path", action="append", default=[], dest="paths", help="add to sys.path"
    )
    return p


def options_help() -> str:
    """cherryd's options as ``--help`` lists them (for the ``cherrypy-rs`` help)."""
    text = build_parser().format_help()
    lines = text[text.index("options:") :].splitlines()[1:]
    return "\n".join(line for line in lines if "--help" not in line) + "\n"


def main(argv: list[str]) -> int:
    """Parse cherryd's options and serve until the engine exits."""
    args = build_parser().parse_args(argv)
    return serve(
        configfiles=args.config,
        daemonize=args.daemonize,
        environment=args.environment,
        pidfile=args.pidfile,
        imports=args.imports,
        paths=args.paths,
    )


def serve(
    configfiles: Sequence[str] = (),
    daemonize: bool = False,
    environment: str | None = None,
    pidfile: str | None = None,
    imports: Sequence[str] = (),
    paths: Sequence[str] = (),
) -> int:
    """Import the modules (they mount their applications), apply the config files,
    optionally daemonize and write a PID file, then run the engine; the exit status."""
    sys.path[:0] = [*paths, ""]
    try:
        for name in imports:
            importlib.import_module(name)
        for filename in configfiles:
            cherrypy_rs.config.update(filename)
            # With one application mounted, its config is the file too (as cherryd).
            apps = list(cherrypy_rs.tree.apps.values())
            if len(apps) == 1 and hasattr(apps[0], "merge"):
                apps[0].merge(filename)
        if environment is not None:
            cherrypy_rs.config.update({"environment": environment})
        engine = cherrypy_rs.engine
        if daemonize:
            cherrypy_rs.config.update({"log.screen": False})
            plugins.Daemonizer(engine).subscribe()
        if pidfile:
            plugins.check_pidfile(pidfile)
            plugins.PIDFile(engine, pidfile).subscribe()
    except (ValueError, OSError, ImportError) as exc:
        print(f"cherryd: error: {exc}", file=sys.stderr)
        return 2
    return _engine.run(engine)
