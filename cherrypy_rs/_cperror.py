"""``cherrypy._cperror``: exceptions and error pages, implemented in ``cherrypy_rs.errors``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .errors import *  # noqa: F403
