"""``cherrypy.lib.encoding``: ``tools.encode`` (response charsets, with
``Accept-Charset`` negotiation), ``tools.decode`` (request charsets) and
``tools.gzip`` (compression), plus ``compress``/``decompress``.

``encode_output`` is ``tools.encode``'s work after the handler; the request path calls
it inline when ``tools.encode`` is the built-in tool (on by default) and no other tool
is on, and ``ResponseEncoder`` is the tool's callable when it runs as a hook (it
replaces ``request.handler``, as CherryPy's does).
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

from .. import context
from .._core import StaticFile
from ..errors import HTTPError
from . import is_closable_iterator, set_vary_header

_LEVEL_FAST = 1
_LEVEL_BEST = 9


def decode(encoding: Any = None, default_encoding: Any = "utf-8", debug: bool = False) -> None:
    """``tools.decode`` (``before_request_body``): the charsets tried to decode the
    request entity. ``encoding`` (a name or a list) replaces them, even over the one the
    request's Content-Type names; otherwise ``default_encoding`` is added to them."""
    body: Any = context.request_or_raise().body
    if encoding is not None:
        body.attempt_charsets = list(encoding) if isinstance(encoding, list) else [encoding]
    elif default_encoding:
        extra = default_encoding if isinstance(default_encoding, list) else [default_encoding]
        body.attempt_charsets = list(body.attempt_charsets) + extra


class UTF8StreamEncoder:
    """An iterator encoding the str chunks of another as UTF-8."""

    def __init__(self, iterator: Any) -> None:
        self._iterator = iterator

    def __iter__(self) -> UTF8StreamEncoder:
        return self

    def __next__(self) -> Any:
        chunk = next(self._iterator)
        return chunk.encode("utf-8") if isinstance(chunk, str) else chunk

    next = __next__

    def close(self) -> None:
        if is_closable_iterator(self._iterator):
            self._iterator.close()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(self, attr)
        return getattr(self._iterator, attr)


def prepare_iter(value: Any) -> Any:
    """The body as something iterable that is falsy when empty (str/bytes → a list
    of one chunk, a file → its chunks, None → [])."""
    if isinstance(value, (str, bytes)):
        return [value] if value else []
    if hasattr(value, "read"):
        return _file_chunks(value)
    if value is None:
        return []
    return value


def _file_chunks(fileobj: Any, size: int = 65536) -> Iterator[bytes]:
    try:
        while True:
            chunk = fileobj.read(size)
            if not chunk:
                return
            yield chunk
    finally:
        close = getattr(fileobj, "close", None)
        if close is not None:
            close()


class _Negotiation:
    """One response's search for a charset its body encodes in and the client takes."""

    __slots__ = ("attempted", "body", "errors", "stream")

    def __init__(self, body: Any, errors: str, stream: bool) -> None:
        self.body = body
        self.errors = errors
        self.stream = stream
        self.attempted: set[str] = set()

    def attempt(self, encoding: str) -> bool:
        if encoding in self.attempted:
            return False
        self.attempted.add(encoding)
        if self.stream:
            self.body = _encode_stream(self.body, encoding, self.errors)
            return True
        chunks = []
        for chunk in self.body:
            if isinstance(chunk, str):
                try:
                    chunk = chunk.encode(encoding, self.errors)
                except (LookupError, UnicodeError):
                    return False
            chunks.append(chunk)
        self.body = chunks
        return True


def _encode_stream(chunks: Any, encoding: str, errors: str) -> Iterator[Any]:
    try:
        for chunk in chunks:
            yield chunk.encode(encoding, errors) if isinstance(chunk, str) else chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _accept_charset(request: Any) -> str | None:
    """The request's Accept-Charset header (without building the header map when
    nothing has yet)."""
    headers = request.__dict__.get("headers")
    if headers is not None:
        return headers.get("Accept-Charset")
    core = getattr(request, "_core", None)
    if core is None:
        return request.headers.get("Accept-Charset")
    return core.header("Accept-Charset")


def find_acceptable_charset(
    neg: _Negotiation,
    request: Any,
    encoding: str | None,
    default_encoding: str,
) -> str:
    """Encode ``neg.body`` in the first charset that both the configuration and the
    client's ``Accept-Charset`` allow and that encodes it; 406 (naming the charsets
    tried) when there is none, 500 when the default charset cannot encode it."""
    header = _accept_charset(request)
    elements = request.headers.elements("Accept-Charset") if header else []
    charsets = [e.value.lower() for e in elements]
    if encoding is not None:
        wanted = encoding.lower()
        if (not charsets or "*" in charsets or wanted in charsets) and neg.attempt(wanted):
            return wanted
    elif not elements:
        if neg.attempt(default_encoding):
            return default_encoding
        raise HTTPError(500, f"Response body could not be encoded with {default_encoding!r}.")
    else:
        for element in elements:
            if element.qvalue > 0:  # type: ignore[attr-defined]
                candidate = default_encoding if element.value == "*" else element.value
                if neg.attempt(candidate):
                    return candidate
        if "*" not in charsets and "iso-8859-1" not in charsets:
            if neg.attempt("iso-8859-1"):
                return "iso-8859-1"
    if header is None:
        msg = "Your client did not send an Accept-Charset header."
    else:
        msg = f"Your client sent this Accept-Charset header: {header}."
    msg += f" We tried these charsets: {', '.join(sorted(neg.attempted))}."
    raise HTTPError(406, msg)


def encode_output(
    output: Any,
    response: Any,
    encoding: str | None = None,
    default_encoding: str = "utf-8",
    errors: str = "strict",
    text_only: bool = True,
    add_charset: bool = True,
    debug: bool = False,
    request: Any = None,
) -> Any:
    """Encode a handler's output as ``tools.encode`` does: for a text/* response (any
    response when ``text_only`` is off) the str chunks are encoded in the negotiated
    charset, which the Content-Type then names; other output is left alone."""
    if not add_charset:
        return output
    headers = response.headers
    ctype = dict.get(headers, "Content-Type")
    if not ctype:
        return output
    if ctype.__class__ is not str:
        ctype = str(ctype)
    if text_only and not (ctype.startswith("text/") or ctype[:5].lower() == "text/"):
        return output
    if request is None:
        request = context.request_or_raise()
    stream = response.stream
    if not stream:
        dict.pop(headers, "Content-Length", None)
    parsed = request.__dict__.get("headers")
    # Without building the header map when nothing has yet.
    accept = (
        request._core.header("Accept-Charset") if parsed is None else parsed.get("Accept-Charset")
    )
    if accept is None and encoding is None and errors == "strict" and output.__class__ is str:
        # The common case: one str, no Accept-Charset, the default charset.
        try:
            body: Any = output.encode(default_encoding)
        except (LookupError, UnicodeError):
            raise HTTPError(
                500, f"Response body could not be encoded with {default_encoding!r}."
            ) from None
        charset = default_encoding
    elif accept is None and encoding is None and output.__class__ is bytes:
        body, charset = output, default_encoding
    elif isinstance(output, StaticFile):
        # Bytes sent by Rust: nothing to encode, but the charset is named as for
        # any other bytes body.
        charset = find_acceptable_charset(
            _Negotiation([], errors, stream), request, encoding, default_encoding
        )
        body = output
    else:
        neg = _Negotiation(prepare_iter(output), errors, stream)
        charset = find_acceptable_charset(neg, request, encoding, default_encoding)
        body = neg.body
    if ";" in ctype:
        ctype = _with_charset(ctype, charset)
    else:
        ctype = f"{ctype};charset={charset}"
    dict.__setitem__(headers, "Content-Type", ctype)
    return body


def _with_charset(ctype: str, charset: str) -> str:
    """``ctype`` with its charset parameter set to ``charset`` (CherryPy replaces one
    the handler set)."""
    value, *params = (atom.strip() for atom in ctype.split(";"))
    kept = [p for p in params if p and p.partition("=")[0].strip().lower() != "charset"]
    return ";".join([value, *kept, f"charset={charset}"])


class ResponseEncoder:
    """``tools.encode`` as a hook (``before_handler``, priority 70): it replaces
    ``request.handler`` with itself and encodes what the handler returns."""

    def __init__(
        self,
        encoding: str | None = None,
        default_encoding: str = "utf-8",
        errors: str = "strict",
        text_only: bool = True,
        add_charset: bool = True,
        debug: bool = False,
    ) -> None:
        self.options: dict[str, Any] = {
            "encoding": encoding,
            "default_encoding": default_encoding,
            "errors": errors,
            "text_only": text_only,
            "add_charset": add_charset,
        }
        request = context.request_or_raise()
        self.oldhandler = request.handler
        if self.oldhandler is not None:
            request.handler = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        assert self.oldhandler is not None
        body = self.oldhandler(*args, **kwargs)
        response = context.response_or_raise()
        body = encode_output(body, response, **self.options)
        # The hooks that follow get an iterable of chunks, as from CherryPy's.
        return prepare_iter(body) if body.__class__ in (bytes, str) or body is None else body


#: ``tools.encode``'s callable name in CherryPy 3.1 and earlier.
encode = ResponseEncoder


def compress(body: Any, compress_level: int) -> Iterator[bytes]:
    """The chunks of ``body`` as one gzip member (RFC 1952), produced as they come."""
    yield b"\x1f\x8b\x08\x00"  # magic, deflate, no flags
    yield struct.pack("<L", int(time.time()) & 0xFFFFFFFF)
    if compress_level == _LEVEL_BEST:
        yield b"\x02\xff"
    elif compress_level == _LEVEL_FAST:
        yield b"\x04\xff"
    else:
        yield b"\x00\xff"
    crc = zlib.crc32(b"")
    size = 0
    zobj = zlib.compressobj(compress_level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
    try:
        for chunk in body:
            size += len(chunk)
            crc = zlib.crc32(chunk, crc)
            data = zobj.compress(chunk)
            if data:
                yield data
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    yield zobj.flush()
    yield struct.pack("<LL", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


def _compress_whole(data: bytes, compress_level: int) -> bytes:
    """``compress`` for a body already in memory, in one call."""
    return b"".join(compress((data,), compress_level))


def decompress(body: bytes) -> bytes:
    """The data of a gzip body."""
    # Lazy: gzip costs ~0.2 MiB per process; compressing needs only zlib.
    import gzip

    with gzip.GzipFile(mode="rb", fileobj=io.BytesIO(body)) as zfile:
        return zfile.read()


def _mime_matches(ctype: str, mime_types: Any) -> bool:
    """Whether ``ctype`` is one of ``mime_types`` (``type/subtype``, ``type/*`` or
    ``type/*+suffix``)."""
    if ctype in mime_types:
        return True
    major, slash, minor = ctype.partition("/")
    if not slash:
        return False
    for mime in mime_types:
        m_major, m_slash, m_minor = mime.partition("/")
        if not m_slash or m_major != major:
            continue
        if m_minor == "*":
            return True
        if "+" in m_minor and "+" in minor:
            left, _, right = m_minor.partition("+")
            if left == "*" and minor.partition("+")[2] == right:
                return True
    return False


#: The largest file body ``tools.gzip`` reads into memory to compress.
GZIP_FILE_LIMIT = 16 * 1024 * 1024
#: Request headers whose answer (304, 412, 206) Rust gives for a file body: a file
#: asked for with one of them is sent as it is, uncompressed.
_FILE_CONDITIONS = (
    "If-Modified-Since",
    "If-None-Match",
    "If-Match",
    "If-Unmodified-Since",
    "Range",
)


def _file_to_compress(request: Any, body: Any) -> bytes | None:
    """The content of a file body to compress, or None to send the file as it is
    (a conditional or range request, which Rust answers; a file over the limit)."""
    headers = request.headers
    if any(name in headers for name in _FILE_CONDITIONS):
        return None
    return body.read(GZIP_FILE_LIMIT)  # type: ignore[no-any-return]


def gzip(
    compress_level: int = 5,
    mime_types: Any = ("text/html", "text/plain"),
    debug: bool = False,
) -> None:
    """``tools.gzip`` (``before_finalize``, priority 80): compress the body when the
    client accepts gzip and the Content-Type is one of ``mime_types``; always adds
    ``Vary: Accept-Encoding``. ``identity`` with q > 0 listed before gzip wins; gzip with
    q=0 means no compression; a client that accepts neither gets 406."""
    request = context.request_or_raise()
    response = context.response_or_raise()
    set_vary_header(response, "Accept-Encoding")
    if not response.body:
        return
    if getattr(request, "cached", False):
        return
    acceptable = request.headers.elements("Accept-Encoding")
    if not acceptable:
        return
    ctype = str(response.headers.get("Content-Type", "")).split(";")[0]
    for coding in acceptable:
        q = coding.qvalue  # type: ignore[attr-defined]
        if coding.value == "identity" and q != 0:
            return
        if coding.value in ("gzip", "x-gzip"):
            if q == 0 or not _mime_matches(ctype, mime_types):
                return
            body = response.body
            if isinstance(body, StaticFile):
                data = _file_to_compress(request, body)
                if data is None:
                    return
                body = data
            response.headers["Content-Encoding"] = "gzip"
            if isinstance(body, list) and not response.stream:
                body = b"".join(body)
            if isinstance(body, bytes):
                response.body = _compress_whole(body, compress_level)
            else:
                response.body = compress(body, compress_level)
            response.headers.pop("Content-Length", None)
            return
    HTTPError(406, "identity, gzip").set_response()


__all__ = [
    "ResponseEncoder",
    "UTF8StreamEncoder",
    "compress",
    "decode",
    "decompress",
    "encode",
    "encode_output",
    "gzip",
    "prepare_iter",
]
