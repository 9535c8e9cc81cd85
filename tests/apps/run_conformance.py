"""Serve one of the conformance apps (tests/apps/conformance_*.py) under CherryPy or
cherrypy_rs.

Usage: python tests/apps/run_conformance.py MODULE <cherrypy|cherrypy_rs> PORT WORKDIR

The apps are written as CherryPy 18 programs (``import cherrypy`` at the top). With
``cherrypy_rs`` the module is installed as ``sys.modules['cherrypy']`` before the app
module is imported, which is the whole of the drop-in promise. Each app module has a
``serve(port, workdir)`` that configures the server and blocks (``quickstart`` or
``engine.start`` + ``engine.block``); WORKDIR is a scratch directory of its own.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[2] not in ("cherrypy", "cherrypy_rs"):
        sys.stderr.write(__doc__ or "")
        return 2
    module, impl, port, workdir = argv[1], argv[2], int(argv[3]), argv[4]
    if impl == "cherrypy_rs":
        import cherrypy_rs

        sys.modules["cherrypy"] = cherrypy_rs
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    app = importlib.import_module(module)
    app.serve(port, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
