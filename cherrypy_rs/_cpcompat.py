"""``cherrypy._cpcompat``: string helpers, implemented in ``cherrypy_rs.compat``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .compat import *  # noqa: F403
from .compat import __getattr__ as __getattr__  # HTTPSConnection, when asked for
