"""``cherrypy._cprequest``: ``Request``, ``Response``, ``Hook`` and ``HookMap``,
implemented in ``cherrypy_rs.objects`` and ``cherrypy_rs.hooks``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .hooks import *  # noqa: F403
from .objects import *  # noqa: F403
