"""Serve tests/apps/compat_app.py under CherryPy or cherrypy_rs.

Usage: python tests/apps/run_compat.py <cherrypy|cherrypy_rs> PORT [--production]

With ``cherrypy_rs`` the module is installed as ``sys.modules['cherrypy']``
before the app is imported, so the app's ``import cherrypy`` gets it.
``--production`` sets ``environment: production`` (no tracebacks, no
mismatched-param messages).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("cherrypy", "cherrypy_rs"):
        sys.stderr.write(__doc__ or "")
        return 2
    impl, port = argv[1], int(argv[2])
    production = "--production" in argv[3:]

    if impl == "cherrypy_rs":
        try:
            import cherrypy_rs
        except ModuleNotFoundError as exc:
            if exc.name != "cherrypy_rs":
                raise
            # Not installed: fall back to the source tree (repo root).
            sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
            import cherrypy_rs

        sys.modules["cherrypy"] = cherrypy_rs

    import cherrypy

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import compat_app

    conf: dict[str, Any] = {
        "server.socket_host": "127.0.0.1",
        "server.socket_port": port,
        "engine.autoreload.on": False,
        "checker.on": False,
        "log.screen": False,
    }
    if production:
        conf["environment"] = "production"
    cherrypy.config.update(conf)
    # quickstart = tree.mount + signal handlers + engine.start + engine.block
    cherrypy.quickstart(compat_app.make_root(), "/", compat_app.CONFIG)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
