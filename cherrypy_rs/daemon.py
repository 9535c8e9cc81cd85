"""``cherrypy.daemon``: cherryd as functions — ``start(...)`` mounts (by importing
modules), configures, optionally daemonizes, and serves until the engine exits;
``run()`` is the command line (``python -m cherrypy_rs.daemon``, the same options as
``python -m cherrypy_rs``).

CherryPy's FastCGI, SCGI and CGI servers (``fastcgi``/``scgi``/``cgi``, flup) are not
offered: the server is the Rust HTTP server; asking for one is an error at start.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import cherryd

__all__ = ["run", "start"]


def start(
    configfiles: Sequence[str] | None = None,
    daemonize: bool = False,
    environment: str | None = None,
    fastcgi: bool = False,
    scgi: bool = False,
    pidfile: str | None = None,
    imports: Sequence[str] | None = None,
    cgi: bool = False,
) -> None:
    """Serve as cherryd does (CherryPy's ``daemon.start`` arguments); raises
    ``SystemExit`` with the engine's status when it is not 0."""
    asked = [name for name, on in (("fastcgi", fastcgi), ("scgi", scgi), ("cgi", cgi)) if on]
    if asked:
        print(
            f"cherryd: error: {asked[0]}=True: cherrypy_rs has no FastCGI, SCGI or CGI "
            "server (CherryPy's flup gateways); it serves HTTP itself — put a reverse "
            "proxy in front of it instead",
            file=sys.stderr,
        )
        raise SystemExit(2)
    status = cherryd.serve(
        configfiles=configfiles or (),
        daemonize=daemonize,
        environment=environment,
        pidfile=pidfile,
        imports=imports or (),
    )
    if status:
        raise SystemExit(status)


def run() -> None:
    """cherryd's command line (``-c``, ``-d``, ``-e``, ``-i``, ``-p``, ``-P``)."""
    raise SystemExit(cherryd.main(sys.argv[1:]))


if __name__ == "__main__":
    run()
