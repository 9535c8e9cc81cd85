"""Serve one of the conformance apps (tests/apps/conformance_*.py) under CherryPy or
cherrypy_rs.

Usage: python tests/apps/run_conformance.py MODULE <cherrypy|cherrypy_rs> PORT WORKDIR [ENV]

The apps are written as CherryPy 18 programs (``import cherrypy`` at the top). With
``cherrypy_rs`` the module is installed as ``sys.modules['cherrypy']`` before the app
module is imported, which is the whole of the drop-in promise. Each app module has a
``serve(port, workdir)`` that configures the server and blocks (``quickstart`` or
``engine.start`` + ``engine.block``); WORKDIR is a scratch directory of its own. ENV is
CherryPy's ``environment`` (``production`` by default; ``default`` sets none, which is
CherryPy's development behaviour: tracebacks, mismatched-parameter messages, checker).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) not in (5, 6) or argv[2] not in ("cherrypy", "cherrypy_rs"):
        sys.stderr.write(__doc__ or "")
        return 2
    module, impl, port, workdir = argv[1], argv[2], int(argv[3]), argv[4]
    environment = argv[5] if len(argv) == 6 else "production"
    if impl == "cherrypy_rs":
        import cherrypy_rs

        sys.modules["cherrypy"] = cherrypy_rs
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import cherrypy

    if environment != "default":
        cherrypy.config.update({"environment": environment})
    app = importlib.import_module(module)
    app.serve(port, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
