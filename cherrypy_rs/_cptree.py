"""``cherrypy._cptree``: ``Application`` and ``Tree``, implemented in ``cherrypy_rs._tree``.

A thin alias (see docs/architecture.md, "Module names"): it only re-exports.
"""

from ._tree import *  # noqa: F403
