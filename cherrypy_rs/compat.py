"""String helpers CherryPy apps import from ``cherrypy._cpcompat``.

``ntob``/``ntou``/``tonative`` convert between native strings and bytes (Latin-1 by
default, as in CherryPy); ``escape_html`` and ``base64_decode`` are the helpers older
CherryPy releases had there and applications still import.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ._html import escape as _escape_html

__all__ = [
    "assert_native",
    "base64_decode",
    "escape_html",
    "ntob",
    "ntou",
    "quote",
    "text_or_bytes",
    "tonative",
    "unquote",
]

#: What CherryPy accepts where "a string" is meant.
text_or_bytes = (str, bytes)


def __getattr__(name: str) -> Any:
    """``HTTPSConnection`` (``http.client``'s, None without ``ssl``), imported when
    first asked for."""
    if name == "HTTPSConnection":
        # Lazy: http.client imports ssl and email (~8 MiB in every process).
        import http.client

        return getattr(http.client, "HTTPSConnection", None)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


quote = urllib.parse.quote
unquote = urllib.parse.unquote


def assert_native(n: Any) -> None:
    """Raise TypeError unless ``n`` is a str."""
    if not isinstance(n, str):
        raise TypeError(f"n must be a native str (got {type(n).__name__})")


def ntob(n: str, encoding: str = "ISO-8859-1") -> bytes:
    """The native string ``n`` as bytes in ``encoding``."""
    assert_native(n)
    return n.encode(encoding)


def ntou(n: str, encoding: str = "ISO-8859-1") -> str:
    """The native string ``n`` as a unicode string (itself, on Python 3)."""
    assert_native(n)
    return n


def tonative(n: str | bytes, encoding: str = "ISO-8859-1") -> str:
    """``n`` as a native string: bytes are decoded with ``encoding``."""
    if isinstance(n, bytes):
        return n.decode(encoding)
    return n


def escape_html(s: str, escape_quote: bool = False) -> str:
    """``s`` with ``&``, ``<`` and ``>`` escaped (and ``"`` with ``escape_quote``)."""
    return _escape_html(s, quote=escape_quote).replace("&#x27;", "'")


def base64_decode(n: str | bytes, encoding: str = "ISO-8859-1") -> str:
    """Decode base64 ``n`` and return the result as a native string."""
    # Lazy: base64 costs ~0.2 MiB per process; only Basic credentials are base64.
    import base64

    decoded = base64.b64decode(n.encode(encoding) if isinstance(n, str) else n)
    return tonative(decoded, encoding)
