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


def set_vary_header(response: Any, header_name: str) -> None:
    """Add ``header_name`` to the response's ``Vary`` header (once)."""
    varies = [v.strip() for v in str(response.headers.get("Vary", "")).split(",") if v.strip()]
    if header_name not in varies:
        varies.append(header_name)
    response.headers["Vary"] = ", ".join(varies)


class file_generator:
    """Yield a file object's contents in chunks (64 KiB by default), closing it at the
    end."""

    def __init__(self, input: Any, chunkSize: int = 65536) -> None:
        self.input = input
        self.chunkSize = chunkSize

    def __iter__(self) -> file_generator:
        return self

    def __next__(self) -> bytes:
        chunk = self.input.read(self.chunkSize)
        if chunk:
            return chunk  # type: ignore[no-any-return]
        close = getattr(self.input, "close", None)
        if close is not None:
            close()
        raise StopIteration

    next = __next__
