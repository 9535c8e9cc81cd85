"""``cherrypy._cpserver``: the HTTP server, implemented in ``cherrypy_rs._server``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from ._server import *  # noqa: F403
