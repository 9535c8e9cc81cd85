"""CherryPy's ``cherrypy.lib`` helpers, reimplemented for cherrypy_rs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def is_iterator(obj: Any) -> bool:
    """Return whether ``obj`` is an iterator (and not a str, bytes or list)."""
    return isinstance(obj, Iterator)


def is_closable_iterator(obj: Any) -> bool:
    """Return whether ``obj`` is an iterator with a ``close()`` method (a generator)."""
    return is_iterator(obj) and callable(getattr(obj, "close", None))
