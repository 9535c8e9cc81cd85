"""``cherrypy.lib.headers``: ``parse_header``, the parser of Content-Type-like values that
CherryPy keeps since the standard library's ``cgi`` module was removed."""

from __future__ import annotations

__all__ = ["parse_header"]


def _parameters(line: str) -> list[str]:
    """The ``;``-separated parts of ``line``, stripped; a ``;`` between double quotes
    (not counting backslash-escaped ones) does not separate."""
    parts = []
    rest = line
    while True:
        cut = rest.find(";")
        while cut > 0 and (rest.count('"', 0, cut) - rest.count('\\"', 0, cut)) % 2:
            cut = rest.find(";", cut + 1)
        if cut < 0:
            parts.append(rest.strip())
            return parts
        parts.append(rest[:cut].strip())
        rest = rest[cut + 1 :]


def parse_header(line: str) -> tuple[str, dict[str, str]]:
    """Split a header value such as ``text/html; charset="utf-8"`` into its main value
    and its parameters (names lowercased, quoted values unquoted)."""
    key, *parts = _parameters(line)
    params: dict[str, str] = {}
    for part in parts:
        name, eq, value = part.partition("=")
        if not eq:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
        params[name.strip().lower()] = value
    return key, params
