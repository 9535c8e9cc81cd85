"""Request bodies (``cherrypy._cpreqbody``): CherryPy's entity API over the body Rust read.

Rust reads the whole request body before the handler runs (in memory up to 1 MiB,
spooled to an unlinked temporary file beyond). ``request.body`` is a ``RequestBody``
over that file; between the ``before_request_body`` and ``before_handler`` hook points
CherryPy calls ``request.body.process()``, which looks the media type up in
``request.body.processors`` (the full type, then the major type, else ``default_proc``):

* ``application/x-www-form-urlencoded`` → ``process_urlencoded`` (fields into ``params``;
  400 when no charset of ``attempt_charsets`` decodes them);
* ``multipart/form-data`` → ``process_multipart_form_data`` (plain fields become str,
  file fields ``Part`` objects whose ``file`` is a temporary file);
* ``multipart`` (any other multipart type) → every part into ``params`` by its name,
  nameless ones under ``parts``, as CherryPy 18 does for ``request.body`` (the
  ``process_multipart`` processor keeps them in ``body.parts`` only).

Multipart bodies are parsed streaming (``MultipartReader``): the body file is read in
64 KiB blocks and searched for the boundary, so neither memory nor CPU depends on how
the body is cut into lines; file parts go to temporary files (``make_file``) as they
are read. Limits, each settable per path as ``request.body.<name>`` in config:
``maxbytes`` (whole body, 413), ``max_parts`` (413), ``max_part_header_size`` (413),
``max_field_size`` (a part without a filename, kept in memory as str: 413). A malformed
multipart body is a 400. Temporary part files are closed (and so gone: they have no
name in the temporary directory) when the request ends, whatever the outcome.

Processors are replaceable per request (``request.body.processors['application/json'] =
fn`` in a hook or tool) or wholesale in config (``request.body.processors = {...}``).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import unquote

from .context import request_or_none
from .errors import HTTPError
from .lib.httputil import HeaderElement, HeaderMap

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "Entity",
    "MultipartReader",
    "Part",
    "RequestBody",
    "SizedReader",
    "inf",
    "process_multipart",
    "process_multipart_form_data",
    "process_urlencoded",
    "release",
    "unquote_plus",
]

DEFAULT_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE
inf = float("inf")

#: Bytes read from the body file at a time while parsing multipart bodies.
MULTIPART_BLOCK = 64 * 1024

#: Transport padding (spaces, tabs) allowed after a boundary (RFC 2046 §5.1.1).
MAX_BOUNDARY_PADDING = 256


def unquote_plus(bs: bytes) -> bytes:
    """``urllib.parse.unquote_plus`` on bytes: ``+`` is a space, ``%XX`` a byte."""
    bs = bs.replace(b"+", b" ")
    if b"%" not in bs:
        return bs
    atoms = bs.split(b"%")
    out = [atoms[0]]
    for atom in atoms[1:]:
        try:
            out.append(bytes((int(atom[:2], 16),)) + atom[2:])
        except ValueError:
            # Not an escape: CherryPy keeps the text and drops the "%".
            out.append(atom)
    return b"".join(out)


def _add_param(params: dict[str, Any], key: str, value: Any) -> None:
    """Set ``params[key]``; a repeated name collects its values in a list."""
    if key in params:
        existing = params[key]
        if not isinstance(existing, list):
            existing = params[key] = [existing]
        existing.append(value)
    else:
        params[key] = value


def _undecodable(charsets: list[str]) -> HTTPError:
    return HTTPError(
        400,
        "The request entity could not be decoded. The following charsets were "
        f"attempted: {charsets!r}",
    )


# ----------------------------------------------------------------- processors


def process_urlencoded(entity: Entity) -> None:
    """Read application/x-www-form-urlencoded data into ``entity.params``.

    Pairs are separated by ``&`` or ``;``; each name and value is decoded with the
    first of ``entity.attempt_charsets`` that decodes all of them (400 if none does).
    """
    data = entity.fp.read()
    pairs = []
    for field in re.split(b"[&;]", data):
        if not field:
            continue
        key, _, value = field.partition(b"=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    for charset in entity.attempt_charsets:
        try:
            decoded = [(k.decode(charset), v.decode(charset)) for k, v in pairs]
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise HTTPError(400, f"Unknown charset {charset!r} in the request.") from None
        entity.charset = charset
        break
    else:
        raise _undecodable(entity.attempt_charsets)
    for key, value in decoded:
        _add_param(entity.params, key, value)


_BOUNDARY_RE = re.compile(r"^[ -~]{0,200}[!-~]$")


def process_multipart(entity: Entity) -> None:
    """Read every part of a multipart entity into ``entity.parts``, streaming.

    Each part is an ``entity.part_class`` instance, processed as it is reached (its
    own ``processors``/``default_proc``: file parts are spooled to ``make_file()``).
    """
    boundary = entity.content_type.params.get("boundary", "").strip('"')
    if not _BOUNDARY_RE.match(boundary):
        raise HTTPError(400, f"Invalid boundary in multipart form: {boundary!r}")
    reader = MultipartReader(entity.fp, ("--" + boundary).encode("ascii"), _budget_for(entity))
    if not reader.start():
        return
    while not reader.done:
        part = entity.part_class.from_fp(reader, reader.boundary)
        entity.parts.append(part)
        part.process()
        # Whatever the part's processor left unread is skipped.
        reader.finish_part()


def process_multipart_form_data(entity: Entity) -> None:
    """Read multipart/form-data parts into ``entity.params`` (by their ``name``).

    A field without a filename becomes its decoded text; a file upload stays a
    ``Part`` (``.file``, ``.filename``, ``.content_type``). Parts without a name are
    left in ``entity.parts``.
    """
    process_multipart(entity)
    kept = []
    for part in entity.parts:
        if part.name is None:
            kept.append(part)
        else:
            value = part.fullvalue() if part.filename is None else part
            _add_param(entity.params, part.name, value)
    entity.parts = kept


def _old_process_multipart(entity: Entity) -> None:
    """CherryPy 3.2's handling, still used for multipart types other than form-data:
    every part into ``params`` by name (nameless ones under ``parts``)."""
    process_multipart(entity)
    for part in entity.parts:
        key = "parts" if part.name is None else part.name
        value = part.fullvalue() if part.filename is None else part
        _add_param(entity.params, key, value)


# ---------------------------------------------------------------- header parsing


def _split_params(value: str) -> list[str]:
    """``a; b="x;y"; c`` → ``['a', 'b="x;y"', 'c']``: split on ``;`` outside quotes."""
    atoms = []
    rest = value
    while True:
        end = rest.find(";")
        # A ";" inside a quoted string (an odd number of unescaped quotes before it).
        while end > 0 and (rest.count('"', 0, end) - rest.count('\\"', 0, end)) % 2:
            end = rest.find(";", end + 1)
        if end < 0:
            atoms.append(rest.strip())
            return atoms
        atoms.append(rest[:end].strip())
        rest = rest[end + 1 :]


def parse_header_element(value: str) -> HeaderElement:
    """A header value with parameters (``form-data; name="a;b"; filename="c, d"``) as
    a HeaderElement; parameter names lower-cased, quoted values unquoted."""
    atoms = _split_params(value)
    params: dict[str, str] = {}
    for atom in atoms[1:]:
        name, eq, val = atom.partition("=")
        if not eq:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace("\\\\", "\\").replace('\\"', '"')
        params[name.strip().lower()] = val
    return HeaderElement(atoms[0], params)


# --------------------------------------------------------------------- entities


class Entity:
    """An HTTP request body, or one part of a MIME multipart body.

    ``process()`` looks ``content_type.value`` up in ``processors`` (then its major
    type) and calls the processor with the entity, or ``default_proc()`` when there is
    none. ``params`` receives decoded form fields, ``parts`` multipart parts.
    """

    #: Charsets tried in order to decode text (the Content-Type's charset first).
    attempt_charsets: list[str] = ["utf-8"]
    #: The charset that decoded the entity.
    charset: str | None = None
    #: The Content-Type (a HeaderElement) of the request body or part.
    content_type: Any = None
    #: The Content-Type assumed when none is given.
    default_content_type = "application/x-www-form-urlencoded"
    #: ``Content-Disposition`` filename, if any.
    filename: str | None = None
    #: What the entity is read from.
    fp: Any = None
    #: The request's (or the part's) headers.
    headers: Any = None
    #: The Content-Length, if given (None for chunked bodies).
    length: int | None = None
    #: ``Content-Disposition`` name, if any.
    name: str | None = None
    params: dict[str, Any]
    #: Media type (or major type) → processor taking the entity. Copied per instance.
    processors: dict[str, Callable[[Any], Any]] = {
        "application/x-www-form-urlencoded": process_urlencoded,
        "multipart/form-data": process_multipart_form_data,
        "multipart": process_multipart,
    }
    parts: list[Any]
    #: The class multipart parts are made with (see Part).
    part_class: type[Part]

    def __init__(
        self,
        fp: Any,
        headers: HeaderMap,
        params: dict[str, Any] | None = None,
        parts: list[Any] | None = None,
    ) -> None:
        # A per-instance copy, so that tools can replace processors per request.
        self.processors = dict(self.processors)
        self.fp = fp
        self.headers = headers
        self.params = {} if params is None else params
        self.parts = [] if parts is None else parts

        content_type = headers.get("Content-Type")
        self.content_type = parse_header_element(
            content_type if content_type else self.default_content_type
        )
        declared = self.content_type.params.get("charset")
        if declared:
            self.attempt_charsets = [declared] + [c for c in self.attempt_charsets if c != declared]
        else:
            self.attempt_charsets = list(self.attempt_charsets)

        self.length = None
        clen = headers.get("Content-Length")
        if clen is not None and "chunked" not in (headers.get("Transfer-Encoding") or ""):
            try:
                self.length = int(clen)
            except ValueError:
                pass

        self.name = None
        self.filename = None
        disposition = headers.get("Content-Disposition")
        if disposition:
            dparams = parse_header_element(disposition).params
            if "name" in dparams:
                self.name = dparams["name"]
            if "filename" in dparams:
                self.filename = dparams["filename"]
            if "filename*" in dparams:
                # RFC 5987: charset'language'percent-encoded
                try:
                    encoding, _lang, quoted = dparams["filename*"].split("'")
                    self.filename = unquote(quoted, encoding or "utf-8", errors="strict")
                except (ValueError, LookupError):
                    raise HTTPError(
                        400, f"Invalid filename* parameter: {dparams['filename*']!r}"
                    ) from None

    # -- reading

    def read(self, size: int | None = None, fp_out: Any = None) -> bytes | None:
        """Read ``size`` bytes (all by default), or write them to ``fp_out``."""
        return _read(self.fp, size, fp_out)

    def readline(self, size: int | None = None) -> bytes:
        return self.fp.readline(size if size is not None else -1)

    def readlines(self, sizehint: int | None = None) -> list[bytes]:
        return self.fp.readlines(sizehint if sizehint is not None else -1)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def read_into_file(self, fp_out: Any = None) -> Any:
        """Read the entity into ``fp_out`` (``make_file()`` by default); return it."""
        if fp_out is None:
            fp_out = self.make_file()
        self.read(fp_out=fp_out)
        return fp_out

    def make_file(self) -> IO[bytes]:
        """A file to read the entity into: a TemporaryFile by default (it has no name
        in the temporary directory and disappears when closed). Override as needed."""
        # Lazy: tempfile imports shutil, random, bz2, lzma (~2.5 MiB per process);
        # only large bodies are spooled.
        import tempfile

        return tempfile.TemporaryFile()

    def fullvalue(self) -> str:
        """The entity as text, whether it was kept in memory or in a file."""
        file = getattr(self, "file", None)
        if file:
            file.seek(0)
            value = file.read()
            file.seek(0)
        else:
            value = getattr(self, "value", None) or b""
        return self.decode_entity(value)

    def decode_entity(self, value: bytes) -> str:
        """``value`` decoded with the first of ``attempt_charsets`` that works (400 if
        none does); the charset used is kept in ``charset``."""
        for charset in self.attempt_charsets:
            try:
                text = value.decode(charset)
            except UnicodeDecodeError:
                continue
            except LookupError:
                raise HTTPError(400, f"Unknown charset {charset!r} in the request.") from None
            self.charset = charset
            return text
        raise _undecodable(self.attempt_charsets)

    # -- processing

    def process(self) -> None:
        """Run the processor for the content type (or its major type), else
        ``default_proc``."""
        ctype = self.content_type.value
        proc = self.processors.get(ctype)
        if proc is None:
            lowered = ctype.lower()
            proc = self.processors.get(lowered) or self.processors.get(lowered.split("/", 1)[0])
        if proc is None:
            self.default_proc()
        else:
            proc(self)

    def default_proc(self) -> None:
        """Called when no processor matches: the body is left for the handler to read."""


class Part(Entity):
    """One part of a multipart body (``Content-Disposition`` gives ``name`` and
    ``filename``). A part with a filename is read into ``file`` (``make_file()``);
    other parts into ``value`` (bytes), or into ``file`` beyond ``maxrambytes``."""

    #: RFC 2046: parts without a charset are US-ASCII; browsers send UTF-8.
    attempt_charsets = ["us-ascii", "utf-8"]
    #: The MIME boundary (``b'--' + boundary``).
    boundary: bytes | None = None
    #: A part without a Content-Type is text/plain (RFC 2046 §5.1).
    default_content_type = "text/plain"
    #: Bytes of a part without a filename held in memory before it goes to a file.
    maxrambytes = 1000

    def __init__(self, fp: Any, headers: HeaderMap, boundary: bytes) -> None:
        super().__init__(fp, headers)
        self.boundary = boundary
        self.file: Any = None
        self.value: bytes | None = None

    @classmethod
    def from_fp(cls, fp: MultipartReader, boundary: bytes) -> Part:
        """The next part of the multipart body ``fp`` is reading."""
        headers = cls.read_headers(fp)
        return cls(fp, headers, boundary)

    @classmethod
    def read_headers(cls, fp: MultipartReader) -> HeaderMap:
        """The next part's headers (repeated names joined with ", ")."""
        block = fp.read_part_headers()
        headers = HeaderMap()
        name: str | None = None
        for line in block.split(b"\r\n"):
            if not line:
                continue
            if line[:1] in (b" ", b"\t"):
                # A continuation of the previous header (obsolete line folding).
                if name is None:
                    raise HTTPError(400, "Malformed multipart body: folded first part header.")
                headers[name] = f"{headers[name]} {line.strip().decode('iso-8859-1')}"
                continue
            key, colon, value = line.partition(b":")
            if not colon or not key.strip():
                raise HTTPError(400, f"Malformed multipart body: bad part header {line[:80]!r}.")
            name = key.strip().decode("iso-8859-1")
            text = value.strip().decode("iso-8859-1")
            existing = headers.get(name)
            headers[name] = f"{existing}, {text}" if existing else text
        return headers

    def read_lines_to_boundary(self, fp_out: Any = None) -> Any:
        """Read the rest of the part: return its bytes, or write them to ``fp_out``
        (returned, rewound). Without ``fp_out``, a part larger than ``maxrambytes``
        goes to ``make_file()``; one without a filename larger than the request's
        ``max_field_size`` is refused with 413."""
        reader = self.fp
        limit = reader.budget.max_field_size if self.filename is None and fp_out is None else None
        chunks: list[bytes] | None = [] if fp_out is None else None
        seen = 0
        for chunk in reader.chunks():
            seen += len(chunk)
            if limit is not None and seen > limit:
                raise HTTPError(
                    413,
                    f"A multipart field is larger than request.body.max_field_size "
                    f"({limit} bytes); send large content as a file upload.",
                )
            if chunks is not None:
                chunks.append(chunk)
                if seen > self.maxrambytes:
                    fp_out = reader.budget.track(self.make_file())
                    for held in chunks:
                        fp_out.write(held)
                    chunks = None
            else:
                fp_out.write(chunk)
        if chunks is not None:
            return b"".join(chunks)
        fp_out.seek(0)
        return fp_out

    def read_into_file(self, fp_out: Any = None) -> Any:
        """Read the part into ``fp_out`` (``make_file()`` by default); return it."""
        if fp_out is None:
            fp_out = self.fp.budget.track(self.make_file())
        self.read_lines_to_boundary(fp_out=fp_out)
        return fp_out

    def default_proc(self) -> None:
        """A part with a filename goes to a file; others to ``value`` (or a file
        beyond ``maxrambytes``)."""
        if self.filename:
            self.file = self.read_into_file()
        else:
            result = self.read_lines_to_boundary()
            if isinstance(result, bytes):
                self.value = result
            else:
                self.file = result

    def __repr__(self) -> str:
        return f"<Part name={self.name!r} filename={self.filename!r}>"


Entity.part_class = Part


def _read(fp: Any, size: int | None, fp_out: Any) -> bytes | None:
    """``fp.read(size)``, or copied to ``fp_out``, whatever kind of reader fp is."""
    if isinstance(fp, (SizedReader, MultipartReader)):
        return fp.read(size, fp_out)
    if fp_out is None:
        return fp.read(-1 if size is None else size)
    remaining = inf if size is None or size < 0 else size
    while remaining > 0:
        data = fp.read(int(min(remaining, MULTIPART_BLOCK)))
        if not data:
            break
        remaining -= len(data)
        fp_out.write(data)
    return None


class SizedReader:
    """Reads at most ``length`` bytes of the body (all of it when None), refusing with
    413 beyond ``maxbytes``."""

    def __init__(
        self,
        fp: Any,
        length: int | None,
        maxbytes: int | None,
        bufsize: int = DEFAULT_BUFFER_SIZE,
        has_trailers: bool = False,
    ) -> None:
        self.fp = fp
        self.length = length
        self.maxbytes = maxbytes
        self.bufsize = bufsize
        self.bytes_read = 0
        self.done = False
        self.has_trailers = has_trailers
        self.trailers: dict[str, Any] = {}

    def _remaining(self, size: int | None) -> int:
        left = sys.maxsize if self.length is None else self.length - self.bytes_read
        if size is not None and 0 <= size < left:
            return size
        return left

    def _count(self, n: int) -> None:
        self.bytes_read += n
        if self.maxbytes and self.bytes_read > self.maxbytes:
            raise HTTPError(
                413, f"The request body is larger than request.body.maxbytes ({self.maxbytes})."
            )

    def read(self, size: int | None = None, fp_out: Any = None) -> bytes | None:
        """Read up to ``size`` bytes (all by default); with ``fp_out``, write them there."""
        remaining = self._remaining(size)
        chunks = []
        while remaining > 0:
            data = self.fp.read(min(remaining, max(self.bufsize, MULTIPART_BLOCK)))
            if not data:
                self.finish()
                break
            self._count(len(data))
            remaining -= len(data)
            if fp_out is None:
                chunks.append(data)
            else:
                fp_out.write(data)
        if remaining == 0 and self.length is not None and self.bytes_read >= self.length:
            self.finish()
        return b"".join(chunks) if fp_out is None else None

    def readline(self, size: int | None = None) -> bytes:
        remaining = self._remaining(size)
        if remaining <= 0:
            self.finish()
            return b""
        line = self.fp.readline(remaining)
        if not line:
            self.finish()
        self._count(len(line))
        return line

    def readlines(self, sizehint: int | None = None) -> list[bytes]:
        lines: list[bytes] = []
        seen = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            seen += len(line)
            if sizehint is not None and 0 < sizehint <= seen:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def finish(self) -> None:
        """The body has been read to its end (trailers are not kept by cherrypy_rs)."""
        self.done = True

    def close(self) -> None:
        self.fp.close()


class RequestBody(Entity):
    """``request.body``: the request entity.

    Without a Content-Type nothing is parsed (CherryPy's ``default_content_type`` is
    empty): the handler reads the bytes with ``read()``, ``readline()``,
    ``readlines()``, iteration or ``fullvalue()``.
    """

    #: Bytes read from the body file at a time.
    bufsize = 8 * 1024
    default_content_type = ""
    #: 413 for a body larger than this (None: only server.max_request_body_size).
    maxbytes: int | None = None
    #: 413 for a multipart body with more parts than this (nested parts included).
    max_parts = 1000
    #: 413 for a multipart part whose header block is larger than this, in bytes.
    max_part_header_size = 16 * 1024
    #: 413 for a multipart part without a filename (kept in memory as text) larger
    #: than this, in bytes. File uploads are not limited by it.
    max_field_size = 1024 * 1024

    def __init__(
        self,
        fp: Any,
        headers: HeaderMap,
        params: dict[str, Any] | None = None,
        request_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(fp, headers, params)
        #: The raw body file, kept for ``fullvalue()`` and for closing.
        self.rfile = fp
        if self.content_type.value.lower().startswith("text/"):
            # RFC 2616 §3.7.1: text without a charset is ISO-8859-1.
            if not any(c.lower() in ("iso-8859-1", "latin-1") for c in self.attempt_charsets):
                self.attempt_charsets.append("ISO-8859-1")
        # CherryPy 18 still gives other multipart types its 3.2 handling.
        self.processors["multipart"] = _old_process_multipart
        self.request_params = {} if request_params is None else request_params
        self._budget: _Budget | None = None

    def fullvalue(self) -> bytes:  # type: ignore[override]
        """The whole raw body, from its start, whatever has been read of it
        (cherrypy_rs: CherryPy's RequestBody has no stored value)."""
        rfile = self.rfile
        position = rfile.tell()
        rfile.seek(0)
        try:
            return rfile.read()
        finally:
            rfile.seek(position)

    def process(self) -> None:
        """Process the entity according to its Content-Type, then add the params it
        gave to ``request.params``. 411 without Content-Length or Transfer-Encoding,
        413 beyond ``maxbytes``."""
        request = request_or_none()
        headers = request.headers if request is not None else self.headers
        if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
            raise HTTPError(411)
        if self.maxbytes and self.length is not None and self.length > self.maxbytes:
            raise HTTPError(
                413, f"The request body is larger than request.body.maxbytes ({self.maxbytes})."
            )
        self.fp = SizedReader(
            self.fp,
            self.length,
            self.maxbytes,
            bufsize=self.bufsize,
            has_trailers="Trailer" in headers,
        )
        super().process()
        request_params = self.request_params
        for key, value in self.params.items():
            _add_param(request_params, key, value)


def release(body: Any, rfile: Any = None) -> None:
    """Close what a request's body opened: multipart part files and the spooled body
    file. Called when the request ends, whatever its outcome."""
    if isinstance(body, RequestBody):
        budget = body._budget
        if budget is not None:
            budget.close_files()
        if rfile is None:
            rfile = body.rfile
    if rfile is not None and not isinstance(rfile, io.BytesIO):
        rfile.close()


# -------------------------------------------------------------- multipart reader


class _Budget:
    """The limits of one request's multipart parsing, the parts counted so far and
    the temporary files made (closed by ``release``)."""

    __slots__ = ("files", "max_field_size", "max_part_header_size", "max_parts", "parts")

    def __init__(self, max_parts: int, max_part_header_size: int, max_field_size: int) -> None:
        self.max_parts = max_parts
        self.max_part_header_size = max_part_header_size
        self.max_field_size = max_field_size
        self.parts = 0
        self.files: list[Any] = []

    def track(self, file: Any) -> Any:
        self.files.append(file)
        return file

    def close_files(self) -> None:
        files, self.files = self.files, []
        for file in files:
            try:
                file.close()
            except Exception:
                pass


def _budget_for(entity: Entity) -> _Budget:
    """The budget shared by the whole request: a nested multipart part uses its
    parent's; the request body makes one from its (configurable) limits."""
    if isinstance(entity.fp, MultipartReader):
        return entity.fp.budget
    if isinstance(entity, RequestBody):
        if entity._budget is None:
            entity._budget = _Budget(
                int(entity.max_parts), int(entity.max_part_header_size), int(entity.max_field_size)
            )
        return entity._budget
    return _Budget(
        RequestBody.max_parts, RequestBody.max_part_header_size, RequestBody.max_field_size
    )


# Where the reader is in the body.
_PREAMBLE, _HEADERS, _DATA, _DONE = range(4)
# What follows a boundary candidate.
_NOT, _MORE, _NEXT, _FINAL = range(4)


def _malformed(why: str) -> HTTPError:
    return HTTPError(400, f"Malformed multipart body: {why}.")


class MultipartReader:
    """Reads a multipart body (RFC 2046 §5.1, RFC 7578) from ``fp`` one part at a time.

    The body is read in blocks of ``MULTIPART_BLOCK`` bytes and searched for
    ``CRLF--boundary`` (or ``LF--boundary``: CherryPy accepts bare LF line ends around
    boundaries; part headers still need CRLF, as in CherryPy); at most a block plus a
    part's header block is held in memory, and the work done is linear in the body size
    however it is cut into lines.
    ``read``/``readline``/``chunks`` return the current part's bytes only.
    """

    def __init__(self, fp: Any, boundary: bytes, budget: _Budget) -> None:
        self.fp = fp
        #: ``b'--' + boundary``, as CherryPy's Part.boundary.
        self.boundary = boundary
        self.budget = budget
        self.bufsize = MULTIPART_BLOCK
        #: True once the closing boundary has been read.
        self.done = False
        self._delim = b"\n" + boundary
        # A virtual CRLF so that a boundary at the very start of the body is found.
        self._buf = b"\r\n"
        self._pos = 0
        #: ``_buf[_pos:_known]`` is known to be data of the current part.
        self._known = 0
        self._eof = False
        self._state = _PREAMBLE

    def _fill(self) -> bool:
        """Read the next block; False at the end of the body."""
        if self._eof:
            return False
        block = self.fp.read(self.bufsize)
        if not block:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + block
        self._pos = 0
        self._known = 0
        return True

    def _classify(self, after: int) -> tuple[int, int]:
        """What follows a ``LF--boundary`` ending at ``after``: the closing
        delimiter, the start of the next part (and where its headers begin: after CRLF,
        or a bare LF as CherryPy accepts), not a delimiter at all (the boundary was a
        prefix of content), or unknown yet."""
        buf = self._buf
        n = len(buf)
        if (
            self._eof
            and n - after <= MAX_BOUNDARY_PADDING + 2
            and not buf[after:].strip(b" \t\r\n")
        ):
            # The body ends with a delimiter line: its last part is complete, as in
            # CherryPy (which stops reading parts at the end of the body).
            return _FINAL, n
        more = (_NOT, 0) if self._eof else (_MORE, 0)
        if after >= n:
            return more
        if buf[after] == 45:  # "-"
            if after + 2 > n:
                return more
            return (_FINAL, after + 2) if buf[after + 1] == 45 else (_NOT, 0)
        j = after
        while j < n and buf[j] in b" \t":
            j += 1
            if j - after > MAX_BOUNDARY_PADDING:
                return _NOT, 0
        if j >= n:
            return more
        if buf[j] == 10:  # a bare LF
            return _NEXT, j + 1
        if j + 2 > n:
            return more
        if buf[j : j + 2] == b"\r\n":
            return _NEXT, j + 2
        return _NOT, 0

    def _data(self, maxlen: int) -> bytes:
        """The next bytes (at most ``maxlen``) of the current part; b"" at its end,
        after which the reader is at the next part's headers (or done)."""
        pos = self._pos
        if pos < self._known:
            # Already searched: no delimiter before _known.
            n = min(self._known - pos, maxlen)
            self._pos = pos + n
            return self._buf[pos : pos + n]
        if self._state not in (_DATA, _PREAMBLE):
            return b""
        delim = self._delim
        dlen = len(delim)
        at_eof = False
        while True:
            buf = self._buf
            pos = self._pos
            i = buf.find(delim, pos)
            kind = _NOT
            while i >= 0:
                kind, end = self._classify(i + dlen)
                if kind != _NOT:
                    break
                i = buf.find(delim, i + 1)
            if i >= 0:
                # The delimiter is CRLF--boundary, or LF--boundary (CherryPy accepts
                # bare LF line ends): a CR before the LF belongs to it, not to the data.
                start = i - 1 if i > pos and buf[i - 1] == 13 else i
            if i >= 0 and kind != _MORE:
                if start > pos:
                    self._known = start
                    n = min(start - pos, maxlen)
                    self._pos = pos + n
                    return buf[pos : pos + n]
                self._pos = end
                if kind == _FINAL:
                    self._state = _DONE
                    self.done = True
                else:
                    self._state = _HEADERS
                return b""
            # No decided delimiter: everything before a possible one (and the CR that
            # may precede it) is data.
            safe = start if i >= 0 else max(pos, len(buf) - dlen)
            if safe > pos:
                self._known = safe
                n = min(safe - pos, maxlen)
                self._pos = pos + n
                return buf[pos : pos + n]
            if not self._fill():
                if at_eof:
                    raise _malformed("the closing boundary is missing")
                at_eof = True

    def start(self) -> bool:
        """Skip the preamble up to the first boundary; False if there are no parts
        (an empty body, or a closing boundary first)."""
        if not self._fill():
            return False
        while self._data(self.bufsize):
            pass
        return not self.done

    def read_part_headers(self) -> bytes:
        """The raw header block of the next part (CRLF-separated lines)."""
        if self._state != _HEADERS:
            raise RuntimeError("read_part_headers() called outside a part boundary")
        budget = self.budget
        budget.parts += 1
        if budget.parts > budget.max_parts:
            raise HTTPError(
                413,
                f"The multipart body has more than request.body.max_parts "
                f"({budget.max_parts}) parts.",
            )
        limit = budget.max_part_header_size
        at_eof = False
        while True:
            buf = self._buf
            pos = self._pos
            if buf.startswith(b"\r\n", pos):
                self._pos = pos + 2
                self._state = _DATA
                return b""
            j = buf.find(b"\r\n\r\n", pos)
            if j >= 0 and j + 4 - pos <= limit:
                self._pos = j + 4
                self._state = _DATA
                return buf[pos : j + 2]
            if j >= 0 or len(buf) - pos > limit:
                raise HTTPError(
                    413,
                    f"A multipart part's headers are larger than "
                    f"request.body.max_part_header_size ({limit} bytes).",
                )
            if not self._fill():
                if at_eof:
                    raise _malformed("a part's headers are not terminated")
                at_eof = True

    def chunks(self) -> Iterator[bytes]:
        """The rest of the current part, in blocks."""
        while True:
            data = self._data(self.bufsize)
            if not data:
                return
            yield data

    def finish_part(self) -> None:
        """Skip what is left of the current part."""
        while self._data(self.bufsize):
            pass

    def read(self, size: int | None = None, fp_out: Any = None) -> bytes | None:
        """Up to ``size`` bytes of the current part (all that is left by default)."""
        remaining = sys.maxsize if size is None or size < 0 else size
        chunks = []
        while remaining > 0:
            data = self._data(min(remaining, self.bufsize))
            if not data:
                break
            remaining -= len(data)
            if fp_out is None:
                chunks.append(data)
            else:
                fp_out.write(data)
        return b"".join(chunks) if fp_out is None else None

    def readline(self, size: int | None = None) -> bytes:
        """One line of the current part (up to ``size`` bytes)."""
        remaining = sys.maxsize if size is None or size < 0 else size
        chunks = []
        while remaining > 0:
            if self._pos >= self._known:
                # Find how far the part's data goes in the buffer, then give it back.
                data = self._data(min(remaining, self.bufsize))
                if not data:
                    break
                self._pos -= len(data)
            buf = self._buf
            pos = self._pos
            end = min(self._known, pos + remaining)
            newline = buf.find(b"\n", pos, end)
            if newline >= 0:
                end = newline + 1
            chunks.append(buf[pos:end])
            self._pos = end
            remaining -= end - pos
            if newline >= 0:
                break
        return b"".join(chunks)

    def readlines(self, sizehint: int | None = None) -> list[bytes]:
        lines: list[bytes] = []
        seen = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            seen += len(line)
            if sizehint is not None and 0 < sizehint <= seen:
                return lines
