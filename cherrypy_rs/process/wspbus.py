"""``cherrypy.process.wspbus``: the publish/subscribe bus, its states and
``ChannelFailures``. The implementation lives in ``cherrypy_rs._engine``."""

from __future__ import annotations

from .._engine import Bus, ChannelFailures, states

__all__ = ["Bus", "ChannelFailures", "bus", "states"]

#: A bus of its own, as CherryPy's module offers (``cherrypy.engine`` is another one).
bus = Bus()
