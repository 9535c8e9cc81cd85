"""``python -m cherrypy_rs.test._spawn [--alias-cherrypy] [--test-path DIR]... <cherryd
options>``: the child process of ``helper.CPProcess``.

It sets up what the parent test process had — ``sys.modules["cherrypy"]`` as
cherrypy_rs, extra directories of the ``cherrypy_rs.test`` package (where a test
runner put CherryPy's test modules) — then runs cherryd (``cherrypy_rs.cherryd``).
"""

from __future__ import annotations

import sys

import cherrypy_rs
import cherrypy_rs.test
from cherrypy_rs.cherryd import main as cherryd


def main(argv: list[str]) -> int:
    rest: list[str] = []
    alias = False
    paths: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--alias-cherrypy":
            alias = True
        elif arg == "--test-path":
            paths.append(next(args))
        else:
            rest.append(arg)
    if alias:
        sys.modules["cherrypy"] = cherrypy_rs
    cherrypy_rs.test.__path__.extend(p for p in paths if p not in cherrypy_rs.test.__path__)
    return cherryd(rest)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
