"""``cherrypy._cplogging``: the log manager, implemented in ``cherrypy_rs._log``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from ._log import *  # noqa: F403
