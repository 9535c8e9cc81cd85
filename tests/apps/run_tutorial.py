"""Serve one of CherryPy's tutorials: the original under real CherryPy, or our port
(examples/tutorial/) under cherrypy_rs.

Usage: python tests/apps/run_tutorial.py <cherrypy|cherrypy_rs> tutNN_name PORT
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path
from typing import Any

#: The root object of each original tutorial (they build it under ``__main__``).
ORIGINAL_ROOTS = {
    "tut01_helloworld": "HelloWorld",
    "tut02_expose_methods": "HelloWorld",
    "tut03_get_and_post": "WelcomePage",
    "tut04_complex_site": "root",
    "tut05_derived_objects": "HomePage",
    "tut06_default_method": "UsersPage",
    "tut07_sessions": "HitCounter",
    "tut08_generators_and_yield": "GeneratorDemo",
    "tut09_files": "FileDemo",
    "tut10_http_errors": "HTTPErrorDemo",
}

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tutorial"


def main(argv: list[str]) -> int:
    impl, name, port = argv[1], argv[2], int(argv[3])
    if impl == "cherrypy":
        import cherrypy

        module = importlib.import_module(f"cherrypy.tutorial.{name}")
        attr = getattr(module, ORIGINAL_ROOTS[name])
        root: Any = attr() if isinstance(attr, type) else attr
    else:
        import cherrypy_rs as cherrypy  # type: ignore[no-redef]

        root = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="tutorial")["root"]()
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "checker.on": False,
            "log.screen": False,
        }
    )
    cherrypy.quickstart(root, "/", {"/": {}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
