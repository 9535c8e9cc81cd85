"""``cherrypy._cpdispatch``: the dispatchers, implemented in ``cherrypy_rs.dispatch``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .dispatch import *  # noqa: F403
