"""``cherrypy._cptools``: tools and toolboxes, implemented in ``cherrypy_rs.toolbox`` and
``cherrypy_rs.default_tools``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from .default_tools import tools as default_toolbox  # noqa: F401
from .lib.caching import CachingTool  # noqa: F401
from .lib.sessionauth import SessionAuthTool  # noqa: F401
from .lib.sessions import SessionTool  # noqa: F401
from .lib.xmlrpcutil import XMLRPCController  # noqa: F401
from .toolbox import *  # noqa: F403
