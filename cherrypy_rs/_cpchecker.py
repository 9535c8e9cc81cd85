"""``cherrypy._cpchecker``: the config checker, implemented in ``cherrypy_rs.checker``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .checker import *  # noqa: F403
