"""``cherrypy._helper``: ``expose``, ``popargs``, ``url``, implemented in ``cherrypy_rs.helper``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .helper import *  # noqa: F403
