"""``cherrypy.lib.headers``: ``parse_header``, the parser of Content-Type-like values that
CherryPy keeps since the standard library's ``cgi`` module was removed."""

from __future__ import annotations

from ..bodies import parse_header_element

__all__ = ["parse_header"]


def parse_header(line: str) -> tuple[str, dict[str, str]]:
    """Split a header value such as ``text/html; charset="utf-8"`` into its main value
    and its parameters (names lowercased, quoted values unquoted)."""
    element = parse_header_element(line)
    return element.value, dict(element.params)
