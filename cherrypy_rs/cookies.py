"""Cookies without the cost of ``http.cookies`` on the common path, with its results.

CherryPy keeps cookies in ``http.cookies.SimpleCookie`` jars (``request.cookie``,
``response.cookie``) and applications read and write them as such; these helpers give
the very same jars and texts, faster for the inputs browsers send and servers set:

- ``parse_simple(header)``: the ``{name: value}`` a ``Cookie`` header of plain
  ``name=value`` pairs holds; None for anything else (quoted values, ``$`` attributes,
  reserved names, odd characters or spacing), which ``load_jar`` then hands to
  ``SimpleCookie.load`` so that every such case keeps the standard library's answer;
- ``new_morsel(key, value)``: the ``Morsel`` that ``jar[key] = value`` would store for
  a key and value made of characters that need no quoting (None otherwise);
- ``output(morsel)``: ``morsel.OutputString()``, computed without sorting its items;
- ``SetCookie(name, attrs)``: a cookie whose name and attributes are fixed and whose
  value and ``expires`` date vary (a session cookie): ``text(value, expires)`` is the
  ``Set-Cookie`` value ``output()`` gives for it, from text rendered once, and
  ``morsel(value, expires)`` the ``Morsel`` a jar would hold (``Response`` builds it
  only if the application looks at ``response.cookie``).

Nothing here changes ``http.cookies``; a check at import compares these helpers with
it and turns the shortcuts off if the interpreter's module behaves differently.
"""

from __future__ import annotations

import string
from http.cookies import CookieError, Morsel, SimpleCookie

__all__ = ["CookieError", "SetCookie", "load_jar", "new_morsel", "output", "parse_simple"]

#: The characters of a key ``Morsel.set`` accepts (``http.cookies._LegalChars``), also
#: those of a value ``SimpleCookie`` sends unquoted.
_LEGAL = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:")
#: Value characters taken as they are: the legal ones but ``$`` (kept simple), and the
#: others ``SimpleCookie.load`` reads unquoted, except ``,`` and ``=``. ASCII only.
_PLAIN_VALUE = frozenset(string.ascii_letters + string.digits + "!#%&'*+-.^_`|~:/<>?@()[]{}")
#: Whitespace as ``http.cookies``'s pattern sees it (``\s`` in ASCII mode).
_SPACE = " \t\n\r\f\v"
_RESERVED = frozenset(Morsel._reserved)  # type: ignore[attr-defined]
#: (key, attribute name) in the order ``OutputString`` writes them (sorted keys).
_ATTRS = tuple(sorted(Morsel._reserved.items()))  # type: ignore[attr-defined]
_FLAGS = frozenset(Morsel._flags)  # type: ignore[attr-defined]
_BLANK = dict.fromkeys(Morsel._reserved, "")  # type: ignore[attr-defined]


def parse_simple(header: str) -> dict[str, str] | None:
    """``{name: value}`` of a ``Cookie`` header made only of ``name=value`` pairs
    separated by ``;`` (a repeated name: the last value, as ``SimpleCookie``), the
    names and values of plain characters; None when the header is anything else."""
    if not _ENABLED:
        return None
    pairs: dict[str, str] = {}
    for part in header.split(";"):
        key, eq, value = part.partition("=")
        if not eq:
            return None
        key = key.strip(_SPACE)
        value = value.strip(_SPACE)
        if (
            not key
            or key[0] == "$"
            or not _LEGAL.issuperset(key)
            or key.lower() in _RESERVED
            # ASCII letters and digits (most values: ids, tokens) are plain.
            or not ((value.isalnum() and value.isascii()) or _PLAIN_VALUE.issuperset(value))
        ):
            return None
        # A repeated name keeps its first position and takes the last value, as in
        # SimpleCookie.
        pairs[key] = value
    return pairs


def new_morsel(key: str, value: str) -> Morsel[str] | None:
    """The ``Morsel`` ``SimpleCookie()[key] = value`` stores, when neither needs
    quoting nor checking (else None: use the jar)."""
    if not _ENABLED or not _LEGAL.issuperset(key) or not _LEGAL.issuperset(value):
        return None
    if not key or not value or key.lower() in _RESERVED:
        # An empty value is sent quoted ("").
        return None
    return _morsel(key, value)


def _morsel(key: str, value: str) -> Morsel[str]:
    """A ``Morsel`` as ``Morsel()`` then ``set(key, value, value)`` make it, for a key
    known to be legal."""
    morsel: Morsel[str] = Morsel.__new__(Morsel)
    dict.update(morsel, _BLANK)
    morsel._key = key  # type: ignore[attr-defined]
    morsel._value = value  # type: ignore[attr-defined]
    morsel._coded_value = value  # type: ignore[attr-defined]
    return morsel


def load_jar(header: str | None) -> SimpleCookie:
    """``request.cookie``: a ``SimpleCookie`` loaded with the ``Cookie`` header
    (CookieError when ``SimpleCookie.load`` raises one)."""
    jar = SimpleCookie()
    if not header:
        return jar
    pairs = parse_simple(header)
    if pairs is None:
        jar.load(header)
        return jar
    for key, value in pairs.items():
        # As SimpleCookie.load: the value as received is both the value and its
        # coded form (it needs no unquoting).
        dict.__setitem__(jar, key, _morsel(key, value))
    return jar


def output(morsel: Morsel[str]) -> str:
    """``morsel.OutputString()`` (the ``Set-Cookie`` value)."""
    if morsel.__class__ is not Morsel or not _ENABLED:
        return morsel.OutputString()
    parts = [f"{morsel.key}={morsel.coded_value}"]
    get = dict.get
    for key, name in _ATTRS:
        value = get(morsel, key, "")
        if value == "":
            continue
        if key == "max-age" and value.__class__ is int:
            parts.append(f"{name}={value:d}")
        elif key in _FLAGS:
            if value:
                parts.append(name)
        elif value.__class__ is str and key != "comment":
            parts.append(f"{name}={value}")
        else:
            # An int expiry, a comment to quote, other types: the library's own text.
            return morsel.OutputString()
    return "; ".join(parts)


class SetCookie:
    """The ``Set-Cookie`` value of cookie ``name`` with the morsel attributes ``attrs``
    (keys as ``Morsel`` stores them: lower case), for any value that needs no quoting
    and any ``expires`` date (with ``has_expires``): the text ``output()`` gives,
    rendered once with placeholders, then filled in per request."""

    __slots__ = ("attrs", "has_expires", "middle", "name", "prefix", "tail")

    _VALUE = "cookie-value-slot"
    _EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT-expires-slot"

    def __init__(self, name: str, attrs: dict[str, object], has_expires: bool) -> None:
        self.name = name
        self.attrs = dict(attrs)
        self.has_expires = has_expires
        self.prefix = f"{name}="
        self.middle = self.tail = ""
        if new_morsel(name, "x") is None or "expires" in attrs:
            raise ValueError(f"cookie {name!r} needs quoting: set it through a jar")
        template = self._render(self._VALUE, self._EXPIRES if has_expires else None)
        head, sep, rest = template.partition(self._VALUE)
        if head != self.prefix or not sep or self._VALUE in rest:
            raise ValueError(f"cookie {name!r}: attributes {attrs!r} have no plain text form")
        if has_expires:
            middle, sep, tail = rest.partition(self._EXPIRES)
            if not sep or self._EXPIRES in tail:
                raise ValueError(f"cookie {name!r}: attributes {attrs!r} have no plain text form")
            self.middle, self.tail = middle, tail
        else:
            self.middle = rest
        # The filled-in text must be what output() gives for the very morsel.
        sample = ("abc123", "Wed, 09 Jun 2021 10:18:14 GMT" if has_expires else None)
        if self.text(*sample) != self._render(*sample):
            raise ValueError(f"cookie {name!r}: attributes {attrs!r} have no plain text form")

    def _render(self, value: str, expires: str | None) -> str:
        return output(self._build(value, expires))

    def _build(self, value: str, expires: str | None) -> Morsel[str]:
        morsel = _morsel(self.name, value)
        dict.update(morsel, self.attrs)
        if expires is not None:
            dict.__setitem__(morsel, "expires", expires)
        return morsel

    def plain(self, value: str) -> bool:
        """Whether ``value`` is sent as it is (no quoting): what ``text`` takes."""
        return (
            _ENABLED
            and bool(value)
            and ((value.isalnum() and value.isascii()) or _LEGAL.issuperset(value))
        )

    def text(self, value: str, expires: str | None) -> str:
        """The ``Set-Cookie`` value for ``value`` (``plain``) and ``expires``."""
        if self.has_expires:
            return f"{self.prefix}{value}{self.middle}{expires}{self.tail}"
        return f"{self.prefix}{value}{self.middle}"

    def morsel(self, value: str, expires: str | None) -> Morsel[str]:
        """The ``Morsel`` a jar holds for this cookie (``jar[name] = value`` and its
        attributes set)."""
        return self._build(value, expires if self.has_expires else None)


def _self_check() -> bool:
    """Whether these helpers give ``http.cookies``'s results on this interpreter."""
    try:
        header = "a=1; b=x-y.z/w; a=2; c="
        ref = SimpleCookie()
        ref.load(header)
        loaded = load_jar(header)
        if loaded != ref or list(loaded) != list(ref):
            return False
        if any(m.__dict__ != ref[k].__dict__ for k, m in loaded.items()):
            return False
        jar = SimpleCookie()
        jar["sid"] = "abc123"
        made = new_morsel("sid", "abc123")
        if made is None or made != jar["sid"] or made.__dict__ != jar["sid"].__dict__:
            return False
        for morsel in (jar["sid"], made):
            morsel["path"] = "/"
            morsel["max-age"] = 3600
            morsel["expires"] = "Wed, 09 Jun 2021 10:18:14 GMT"
            morsel["httponly"] = True
            morsel["samesite"] = "Lax"
        return output(made) == jar["sid"].OutputString()
    except Exception:
        return False


_ENABLED = True
_ENABLED = _self_check()
