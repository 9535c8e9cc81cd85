"""``cherrypy._cpwsgi``: WSGI support, implemented in ``cherrypy_rs.wsgi``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .wsgi import *  # noqa: F403
from .wsgi import VirtualHost  # noqa: F401
