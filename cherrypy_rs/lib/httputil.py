"""HTTP helpers with ``cherrypy.lib.httputil``'s names: status codes, header maps,
query-string parsing and host records."""

from __future__ import annotations

import email.utils
import re
import urllib.parse
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple

response_codes: dict[int, tuple[str, str]] = dict(BaseHTTPRequestHandler.responses)
# CherryPy's own wording for these two (cherrypy/cherrypy#361).
response_codes[500] = (
    "Internal Server Error",
    "The server encountered an unexpected condition which prevented it from "
    "fulfilling the request.",
)
response_codes[503] = (
    "Service Unavailable",
    "The server is currently unable to handle the request due to a temporary "
    "overloading or maintenance of the server.",
)


def valid_status(status: Any) -> tuple[int, str, str]:
    """Return ``(code, reason, message)`` for an int or ``"404 Reason"`` status.

    Raises ValueError for a non-numeric or out-of-range status, as CherryPy does.
    """
    if not status:
        status = 200
    code: Any = status
    reason: str | None = None
    if isinstance(status, str):
        code, _, reason = status.partition(" ")
        reason = reason.strip() or None
    try:
        code = int(code)
    except (TypeError, ValueError):
        raise ValueError(
            f"Illegal response status from server ({code!r} is non-numeric)."
        ) from None
    if code < 100 or code > 599:
        raise ValueError(f"Illegal response status from server ({code!r} is out of range).")
    default_reason, message = response_codes.get(code, ("", ""))
    return code, reason if reason is not None else default_reason, message


def _title(key: Any) -> Any:
    return key.title() if isinstance(key, str) else key


class HeaderMap(dict):
    """A dict of HTTP headers whose keys are case-insensitive (stored title-cased)."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, _title(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, _title(key), value)

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, _title(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, _title(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, _title(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        return dict.pop(self, _title(key), *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return dict.setdefault(self, _title(key), default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def copy(self) -> HeaderMap:
        new = HeaderMap()
        dict.update(new, self)
        return new

    def elements(self, key: str) -> list[HeaderElement]:
        """The comma-separated elements of a header, parsed and sorted as CherryPy
        sorts them (``Accept*``/``TE``: most preferred first, see ``AcceptElement``)."""
        value = self.get(key)
        if value is None:
            return []
        return header_elements(_title(key), str(value))

    def values(self, key: str | None = None) -> Any:  # type: ignore[override]
        """With a key: the element values of that header; without: dict.values()."""
        if key is None:
            return dict.values(self)
        return [e.value for e in self.elements(key)]

    def output(self) -> list[tuple[str, str]]:
        """The headers as a list of ``(name, value)`` str tuples."""
        return [(k, v if isinstance(v, str) else str(v)) for k, v in dict.items(self)]


class HeaderElement:
    """One element of a header value: ``text/html;charset=utf-8``."""

    def __init__(self, value: str, params: dict[str, str] | None = None) -> None:
        self.value = value
        self.params = params or {}

    @classmethod
    def parse(cls, text: str) -> HeaderElement:
        atoms = [a.strip() for a in text.split(";")]
        params: dict[str, str] = {}
        for atom in atoms[1:]:
            if not atom:
                continue
            key, _, val = atom.partition("=")
            params[key.strip()] = val.strip().strip('"')
        return cls(atoms[0], params)

    def __str__(self) -> str:
        params = "".join(f";{k}={v}" for k, v in self.params.items())
        return f"{self.value}{params}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r}, {self.params!r})"


class Host(NamedTuple):
    """An internet address: ``ip``, ``port`` and a ``name`` (hostname or ip)."""

    ip: str
    port: int
    name: str = ""


_IMAGE_MAP = re.compile(r"^\d+,\d+$")


def parse_query_string(
    query_string: str, keep_blank_values: bool = True, encoding: str = "utf-8"
) -> dict[str, Any]:
    """Parse a query string into a dict; repeated keys become lists.

    ``"5,10"`` (an image-map click) becomes ``{"x": 5, "y": 10}``, as in CherryPy.
    Raises UnicodeDecodeError when a value is not valid in ``encoding``.
    """
    if _IMAGE_MAP.match(query_string):
        x, y = query_string.split(",")
        return {"x": int(x), "y": int(y)}
    return parse_pairs(query_string, keep_blank_values, encoding)


def parse_pairs(
    text: str, keep_blank_values: bool = True, encoding: str = "utf-8"
) -> dict[str, Any]:
    """Parse ``a=1&b=2;c=3`` (``+`` is a space) into a dict of str or lists of str."""
    result: dict[str, Any] = {}
    for pair in text.replace(";", "&").split("&"):
        if not pair:
            continue
        name, eq, value = pair.partition("=")
        if not eq and not keep_blank_values:
            continue
        if not value and not keep_blank_values:
            continue
        key = urllib.parse.unquote_plus(name, encoding=encoding, errors="strict")
        val = urllib.parse.unquote_plus(value, encoding=encoding, errors="strict")
        if key in result:
            existing = result[key]
            if isinstance(existing, list):
                existing.append(val)
            else:
                result[key] = [existing, val]
        else:
            result[key] = val
    return result


def urljoin(*atoms: str) -> str:
    """Join URL path atoms with single slashes."""
    url = "/".join(x for x in atoms if x)
    while "//" in url:
        url = url.replace("//", "/")
    return url or "/"


def HTTPDate(timeval: float | None = None) -> str:
    """An RFC 9110 IMF-fixdate."""
    return email.utils.formatdate(timeval, usegmt=True)


def header_items(items: Iterable[tuple[str, str]]) -> HeaderMap:
    """Build a HeaderMap from (name, value) pairs, joining repeats with ", " (RFC 9110
    §5.3), and Cookie lines with "; " (RFC 6265 §5.4: one cookie-string)."""
    headers = HeaderMap()
    for name, value in items:
        key = name.title()
        if dict.__contains__(headers, key):
            sep = "; " if key == "Cookie" else ", "
            dict.__setitem__(headers, key, dict.__getitem__(headers, key) + sep + value)
        else:
            dict.__setitem__(headers, key, value)
    return headers


class AcceptElement(HeaderElement):
    """An element of an ``Accept*``/``TE`` header, with its ``qvalue`` (tools.encode,
    tools.gzip, tools.accept). Sorting puts the least preferred first, as CherryPy's
    does (``header_elements`` reverses the sort)."""

    @classmethod
    def parse(cls, text: str) -> HeaderElement:
        # The first "q" parameter separates media-range parameters from accept-params.
        media_range, sep, accept_params = _Q_SEPARATOR.partition(text)
        element = HeaderElement.parse(media_range)
        if sep:
            element.params["q"] = HeaderElement.parse(accept_params.strip())  # type: ignore[assignment]
        return cls(element.value, element.params)

    @property
    def qvalue(self) -> float:
        """The preference of this element (``q``, 1 when absent); a q that is not a
        number is the client's error: 400."""
        value: Any = self.params.get("q", "1")
        if isinstance(value, HeaderElement):
            value = value.value
        try:
            q = float(value)
        except ValueError:
            # Lazy: errors imports this module (response codes).
            from ..errors import HTTPError

            raise HTTPError(400, f"Malformed HTTP header: `{self}`") from None
        return q if q == q else 0.0  # NaN is no preference

    def __lt__(self, other: AcceptElement) -> bool:
        mine, theirs = self.qvalue, other.qvalue
        if mine == theirs:
            return str(self) < str(other)
        return mine < theirs


class _QSeparator:
    """Split ``text/html;level=1; q=0.5`` at its first ``;q=`` (spaces allowed)."""

    pattern = re.compile(r"; *q *=")

    def partition(self, text: str) -> tuple[str, str, str]:
        match = self.pattern.search(text)
        if match is None:
            return text.strip(), "", ""
        return text[: match.start()].strip(), match.group(), text[match.end() :]


_Q_SEPARATOR = _QSeparator()
#: Commas outside double quotes separate a header's elements.
_ELEMENT_SPLIT = re.compile(r',(?=(?:[^"]*"[^"]*")*[^"]*$)')


def header_elements(fieldname: str, fieldvalue: str) -> list[HeaderElement]:
    """The elements of a header value, sorted as CherryPy sorts them: by ``qvalue``
    (most preferred first) for ``Accept*`` and ``TE``, else by value, descending."""
    if not fieldvalue:
        return []
    accept = fieldname.startswith("Accept") or fieldname == "TE"
    parts = _ELEMENT_SPLIT.split(fieldvalue) if '"' in fieldvalue else fieldvalue.split(",")
    result: list[HeaderElement] = [
        AcceptElement.parse(part) if accept else HeaderElement.parse(part)
        for part in parts
        if part.strip()
    ]
    if accept:
        result.sort(key=_accept_key, reverse=True)
    else:
        result.sort(key=lambda e: e.value, reverse=True)
    return result


def _accept_key(element: HeaderElement) -> tuple[float, str]:
    return (element.qvalue, str(element))  # type: ignore[attr-defined]
