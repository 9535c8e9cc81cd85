"""``cherrypy._cpconfig``: the config, implemented in ``cherrypy_rs._config``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from ._config import *  # noqa: F403
