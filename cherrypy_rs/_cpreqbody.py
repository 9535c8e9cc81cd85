"""``cherrypy._cpreqbody``: request bodies, implemented in ``cherrypy_rs.bodies``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .bodies import *  # noqa: F403
