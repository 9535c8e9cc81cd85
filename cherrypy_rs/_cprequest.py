"""``cherrypy._cprequest``: ``Request`` and ``Response``, implemented in ``cherrypy_rs.objects``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .objects import *  # noqa: F403
