"""HTTP helpers with ``cherrypy.lib.httputil``'s names and behaviour: status codes,
header maps (case-insensitive; values encoded for the wire as Latin-1 or RFC 2047),
header elements with ``Accept`` q-values and their ordering, ``Range`` parsing,
query-string parsing, URL joining and host records."""

from __future__ import annotations

import binascii
import re
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import Any

# http.server's BaseHTTPRequestHandler.responses, built the same way without importing
# http.server (it pulls in http.client, email and socketserver).
response_codes: dict[int, tuple[str, str]] = {
    status: (status.phrase, status.description) for status in HTTPStatus
}
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
    if key is None:
        return "None"
    return key.title() if isinstance(key, str) else key


# -- header elements -------------------------------------------------------------------


class HeaderElement:
    """One element of a header value, e.g. ``text/html;level=1``: its ``value`` and
    ``params``. Elements order by value."""

    def __init__(self, value: str, params: dict[str, Any] | None = None) -> None:
        self.value = value
        self.params = {} if params is None else params

    def __lt__(self, other: HeaderElement) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HeaderElement):
            return NotImplemented
        return str(self) == str(other)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.value + "".join(f";{k}={v}" for k, v in self.params.items())

    def __bytes__(self) -> bytes:
        return str(self).encode("ISO-8859-1")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r}, {self.params!r})"

    @staticmethod
    def parse(elementstr: str) -> tuple[str, dict[str, str]]:
        """``(value, params)`` of ``"value;k=v;k2=v2"`` (values kept as written)."""
        atoms = [x.strip() for x in elementstr.split(";") if x.strip()]
        initial = atoms.pop(0).strip() if atoms else ""
        params: dict[str, str] = {}
        for atom in atoms:
            parts = [x.strip() for x in atom.split("=", 1) if x.strip()]
            key = parts.pop(0)
            params[key] = parts[0] if parts else ""
        return initial, params

    @classmethod
    def from_str(cls, elementstr: str) -> HeaderElement:
        """Build an element from its text."""
        value, params = cls.parse(elementstr)
        return cls(value, params)


#: Where an Accept element's media-range parameters end and its accept-params begin.
q_separator = re.compile(r"; *q *=")


class AcceptElement(HeaderElement):
    """An element of ``Accept``, ``Accept-Charset``, ``Accept-Encoding``,
    ``Accept-Language`` or ``TE``, with its ``qvalue``. Elements order by qvalue,
    then by text, so ``sorted(..., reverse=True)`` puts the preferred one first."""

    @classmethod
    def from_str(cls, elementstr: str) -> AcceptElement:
        qvalue = None
        atoms = q_separator.split(elementstr, 1)
        media_range = atoms.pop(0).strip()
        if atoms:
            # The qvalue may carry accept-extensions: parse it as an element.
            qvalue = HeaderElement.from_str(atoms[0].strip())
        media_type, params = cls.parse(media_range)
        if qvalue is not None:
            params["q"] = qvalue  # type: ignore[assignment]
        return cls(media_type, params)

    @property
    def qvalue(self) -> float:
        """The preference (0 to 1; 1 when not given). A malformed one is a 400."""
        val = self.params.get("q", "1")
        if isinstance(val, HeaderElement):
            val = val.value
        try:
            return float(val)
        except ValueError as exc:
            # Lazy: errors imports this module (valid_status).
            from ..errors import HTTPError

            raise HTTPError(400, f"Malformed HTTP header: `{self}`") from exc

    def __lt__(self, other: HeaderElement) -> bool:
        mine, theirs = self.qvalue, getattr(other, "qvalue", 1.0)
        if mine == theirs:
            return str(self) < str(other)
        return mine < theirs


#: Splits a header value on the commas that are not inside a quoted string.
RE_HEADER_SPLIT = re.compile(',(?=(?:[^"]*"[^"]*")*[^"]*$)')


def header_elements(fieldname: str, fieldvalue: str | None) -> list[HeaderElement]:
    """The elements of a header value, most preferred (or greatest) first."""
    if not fieldvalue:
        return []
    accept = fieldname.startswith("Accept") or fieldname == "TE"
    cls = AcceptElement if accept else HeaderElement
    result = [cls.from_str(element) for element in RE_HEADER_SPLIT.split(fieldvalue)]
    return list(reversed(sorted(result)))


def decode_TEXT(value: str) -> str:
    """Decode RFC 2047 encoded-words (``=?utf-8?q?f=C3=BCr?=`` → ``für``)."""
    decoded = ""
    # Lazy: the email package costs ~2 MiB per process; only RFC 2047 words need it.
    from email.header import decode_header

    for atom, charset in decode_header(value):
        if isinstance(atom, bytes):
            atom = atom.decode(charset or "ISO-8859-1")
        decoded += atom
    return decoded


def decode_TEXT_maybe(value: str) -> str:
    """``decode_TEXT`` only when ``=?`` appears in the value."""
    return decode_TEXT(value) if "=?" in value else value


# -- header maps -----------------------------------------------------------------------


def header_value(value: Any) -> str:
    """A response header value as text the wire can carry: ``str()`` of non-strings;
    Latin-1 text as it is; anything else as one RFC 2047 encoded-word
    (``=?utf-8?b?...?=``), as CherryPy sends it."""
    if value.__class__ is not str:
        if isinstance(value, bytes):
            return value.decode("ISO-8859-1")
        value = str(value)
    if value.isascii():
        return value
    try:
        value.encode("ISO-8859-1")
    except UnicodeEncodeError:
        encoded = binascii.b2a_base64(value.encode("utf-8"), newline=False)
        return "=?utf-8?b?" + encoded.decode("ascii") + "?="
    return value


class HeaderMap(dict):
    """A dict of HTTP headers whose keys are case-insensitive (stored title-cased).

    ``elements(key)``/``values(key)`` parse a header's comma-separated elements;
    ``output()`` gives the ``(name, value)`` byte pairs CherryPy would send (values in
    Latin-1, or RFC 2047 when they need more).
    """

    __slots__ = ()

    protocol = (1, 1)
    encodings = ["ISO-8859-1"]
    use_rfc_2047 = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    @staticmethod
    def transform_key(key: Any) -> Any:
        return _title(key)

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
        new = type(self)()
        dict.update(new, self)
        return new

    @classmethod
    def fromkeys(cls, keys: Iterable[Any], value: Any = None) -> HeaderMap:  # type: ignore[override]
        new = cls()
        for key in keys:
            new[key] = value
        return new

    def elements(self, key: str) -> list[HeaderElement]:
        """The elements of a header, sorted (for Accept* headers: by preference)."""
        return header_elements(_title(key), self.get(key))

    def values(self, key: str | None = None) -> Any:  # type: ignore[override]
        """With a key: the element values of that header, sorted as ``elements``;
        without: ``dict.values()``."""
        if key is None:
            return dict.values(self)
        return [e.value for e in self.elements(key)]

    def output(self) -> list[tuple[bytes, bytes]]:
        """The headers as ``(name, value)`` byte pairs for the wire."""
        return list(self.encode_header_items(self.items()))

    @classmethod
    def encode_header_items(
        cls, header_items: Iterable[tuple[Any, Any]]
    ) -> Iterator[tuple[bytes, bytes]]:
        for k, v in header_items:
            if not isinstance(v, (str, bytes)):
                v = str(v)
            yield cls.encode_header_item(k), cls.encode_header_item(v)

    @classmethod
    def encode_header_item(cls, item: Any) -> bytes:
        if isinstance(item, str):
            item = cls.encode(item)
        return bytes(item).translate(None, _CONTROL_CHARS)

    @classmethod
    def encode(cls, v: str) -> bytes:
        """A header name or value encoded for the wire (Latin-1, else RFC 2047)."""
        for enc in cls.encodings:
            try:
                return v.encode(enc)
            except UnicodeEncodeError:
                continue
        if cls.protocol == (1, 1) and cls.use_rfc_2047:
            encoded = binascii.b2a_base64(v.encode("utf-8"), newline=False)
            return b"=?utf-8?b?" + encoded + b"?="
        raise ValueError(
            f"Could not encode header part {v!r} using any of the encodings {cls.encodings!r}."
        )


#: CherryPy's name for a case-insensitive dict of headers.
CaseInsensitiveDict = HeaderMap

_CONTROL_CHARS = bytes(range(32)) + bytes([127])


class Host:
    """An internet address: ``ip``, ``port`` and a ``name`` (hostname or ip), each
    settable, as CherryPy's (``request.remote.name = ...``; tools.proxy sets ``ip``)."""

    ip = "0.0.0.0"
    port = 80
    name = "unknown.tld"

    def __init__(self, ip: str, port: int, name: str | None = None) -> None:
        self.ip = ip
        self.port = port
        self.name = ip if name is None else name

    def __repr__(self) -> str:
        return f"httputil.Host({self.ip!r}, {self.port!r}, {self.name!r})"


_IMAGE_MAP = re.compile(r"^\d+,\d+$")
#: CherryPy's name for the image-map query pattern.
image_map_pattern = re.compile(r"[0-9]+,[0-9]+")


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
    """Join URL path atoms (a SCRIPT_NAME and a PATH_INFO...) with single slashes;
    "" joins to "/"."""
    url = "/".join(x for x in atoms if x)
    while "//" in url:
        url = url.replace("//", "/")
    return url or "/"


def urljoin_bytes(*atoms: bytes) -> bytes:
    """``urljoin`` for bytes atoms."""
    url = b"/".join(x for x in atoms if x)
    while b"//" in url:
        url = url.replace(b"//", b"/")
    return url or b"/"


def protocol_from_http(protocol_str: str) -> tuple[int, int]:
    """``(1, 1)`` from ``"HTTP/1.1"``."""
    return int(protocol_str[5]), int(protocol_str[7])


def get_ranges(headervalue: str | None, content_length: int) -> list[tuple[int, int]] | None:
    """The ``(start, stop)`` slices a ``Range`` header asks for, or None.

    ``bytes=3-6`` gives ``[(3, 7)]``; ``bytes=-5`` the last five bytes. None means
    "serve the whole entity" (no header, or a syntactically invalid range); an empty
    list means no range is satisfiable (answer 416).
    """
    if not headervalue:
        return None
    result: list[tuple[int, int]] = []
    _unit, _, byteranges = headervalue.partition("=")
    for brange in byteranges.split(","):
        first, _, last = (x.strip() for x in brange.partition("-"))
        if first:
            start = int(first)
            stop = int(last) if last else content_length - 1
            if start >= content_length:
                continue  # unsatisfiable: skipped (416 if none is left)
            if stop < start:
                return None  # invalid: treated as if there were no Range header
            result.append((start, stop + 1))
        else:
            if not last:
                return None
            suffix = int(last)
            result.append((max(content_length - suffix, 0), content_length))
    return result


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def HTTPDate(timeval: float | None = None) -> str:
    """An RFC 9110 IMF-fixdate (``email.utils.formatdate(timeval, usegmt=True)``)."""
    t = time.gmtime(timeval)
    return (
        f"{_DAY_NAMES[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} "
        f"{t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def header_items(
    items: Iterable[tuple[str, str]],
    remote_addr: str | None = None,
    into: HeaderMap | None = None,
) -> HeaderMap:
    """Build ``request.headers`` from (name, value) pairs as CherryPy fills it.

    A repeated header is joined into one value with ", " (RFC 9110 §5.3), except
    ``Cookie``, joined with "; " (RFC 6265 §5.4: one cookie-string). Values
    with RFC 2047 encoded-words are decoded; CR and LF are removed from ``Host``
    (``SanitizedHost``). ``remote_addr`` becomes the ``Remote-Addr`` entry CherryPy adds.
    ``into`` is the (empty) map to fill, when not a new ``HeaderMap``.
    """
    headers = HeaderMap() if into is None else into
    for name, value in items:
        key = name.title()
        if "=?" in value:
            try:
                value = decode_TEXT(value)
            except (ValueError, LookupError):
                pass  # not a valid encoded-word: kept as received
        if dict.__contains__(headers, key):
            sep = "; " if key == "Cookie" else ", "
            dict.__setitem__(headers, key, dict.__getitem__(headers, key) + sep + value)
        else:
            dict.__setitem__(headers, key, value)
    host = dict.get(headers, "Host")
    if host is not None and ("\n" in host or "\r" in host):
        dict.__setitem__(headers, "Host", SanitizedHost(host))
    if remote_addr is not None and not dict.__contains__(headers, "Remote-Addr"):
        dict.__setitem__(headers, "Remote-Addr", remote_addr)
    return headers


class SanitizedHost(str):
    """A Host header value with CR and LF removed; ``raw`` keeps what was received.
    Only returned when something was removed."""

    dangerous = re.compile(r"[\n\r]")
    raw: str

    def __new__(cls, raw: str) -> Any:
        sanitized = cls.dangerous.sub("", raw)
        if sanitized == raw:
            return raw
        instance = super().__new__(cls, sanitized)
        instance.raw = raw
        return instance
