"""``cherrypy.process``: the engine's bus (``wspbus``), its plugins (``plugins``) and
the adapter that runs HTTP servers on it (``servers``).

``bus`` is the process-wide engine, ``cherrypy_rs.engine``.
"""

from __future__ import annotations

from typing import Any

from .. import context
from . import plugins, servers, wspbus

__all__ = ["bus", "plugins", "servers", "wspbus"]


def __getattr__(name: str) -> Any:
    # ``bus`` is the engine, which the package creates after importing this one.
    if name == "bus":
        return context.site.engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
