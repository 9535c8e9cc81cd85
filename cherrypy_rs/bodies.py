"""Request bodies (``cherrypy._cpreqbody``): ``RequestBody`` for the entity Rust
read before the handler runs, and ``Part`` for each field of a multipart body."""

from __future__ import annotations

import email.parser
import email.policy
import io
from collections.abc import Iterator
from typing import Any, cast

from .errors import HTTPError
from .lib.httputil import HeaderElement, HeaderMap, parse_pairs


class RequestBody:
    """``request.body``: the request entity, read by Rust before the handler runs.

    ``params`` holds decoded form fields (application/x-www-form-urlencoded);
    ``read()``, ``readline()``, ``readlines()`` and iteration give the raw bytes.
    """

    attempt_charsets: tuple[str, ...] = ("utf-8",)
    processed = False

    def __init__(
        self, fp: Any, length: int, headers: HeaderMap, request_params: dict[str, Any]
    ) -> None:
        #: A binary file: io.BytesIO, or the temporary file a large body was spooled to.
        self.fp = fp
        self.headers = headers
        self.params: dict[str, Any] = {}
        self.request_params = request_params
        self.length = length
        content_type = headers.get("Content-Type")
        self.content_type = content_type.split(";")[0].strip().lower() if content_type else None
        self.charset: str | None = None
        declared = (
            headers.elements("Content-Type")[0].params.get("charset") if content_type else None
        )
        if declared:
            # A charset the client declares is tried first, as in CherryPy.
            self.attempt_charsets = (
                declared,
                *(c for c in type(self).attempt_charsets if c != declared),
            )
        self.parts: list[Any] = []

    def read(self, size: int | None = None) -> bytes:
        return self.fp.read(size if size is not None else -1)

    def readline(self, size: int | None = None) -> bytes:
        return self.fp.readline(size if size is not None else -1)

    def readlines(self, sizehint: int | None = None) -> list[bytes]:
        return self.fp.readlines(sizehint if sizehint is not None else -1)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.fp)

    def fullvalue(self) -> bytes:
        """The whole body (from the start, whatever was read before)."""
        position = self.fp.tell()
        self.fp.seek(0)
        try:
            return self.fp.read()
        finally:
            self.fp.seek(position)

    def process(self) -> None:
        """Decode form fields into ``params`` and merge them into ``request.params``."""
        self.processed = True
        if self.content_type == "multipart/form-data":
            self._merge(self._multipart())
            return
        if self.content_type != "application/x-www-form-urlencoded":
            return
        data = self.fp.read()
        for charset in self.attempt_charsets:
            try:
                params = parse_pairs(data.decode("latin-1"), encoding=charset)
            except UnicodeDecodeError:
                continue
            self.charset = charset
            break
        else:
            raise HTTPError(
                400,
                "The request entity could not be decoded. The following charsets were "
                f"attempted: {list(self.attempt_charsets)!r}",
            )
        self._merge(params)

    def _multipart(self) -> dict[str, Any]:
        content_type = self.headers.get("Content-Type") or ""
        return _parse_multipart(content_type, self.fp.read(), tuple(self.attempt_charsets))

    def _merge(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.params[key] = value
            if key in self.request_params:
                existing = self.request_params[key]
                if not isinstance(existing, list):
                    existing = self.request_params[key] = [existing]
                existing.extend(value if isinstance(value, list) else [value])
            else:
                self.request_params[key] = value


class Part:
    """One field of a multipart/form-data body (``cherrypy._cpreqbody.Part``): an
    uploaded file has ``filename``, ``content_type`` and ``file``; ``fullvalue()``
    returns its content."""

    def __init__(
        self,
        name: str | None,
        filename: str | None,
        content_type: str,
        headers: HeaderMap,
        data: bytes,
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = HeaderElement.parse(content_type)
        self.headers = headers
        self.file: io.BytesIO | None = io.BytesIO(data)
        self.length = len(data)
        self.value: Any = None

    def fullvalue(self) -> bytes:
        assert self.file is not None
        return self.file.getvalue()

    def __repr__(self) -> str:
        return f"<Part {self.name!r} filename={self.filename!r} {self.length} bytes>"


def _parse_multipart(content_type: str, data: bytes, charsets: tuple[str, ...]) -> dict[str, Any]:
    """Fields of a multipart/form-data body: str for plain fields, Part for files."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    if not message.is_multipart():
        raise HTTPError(400, "Invalid multipart/form-data body (no boundary or no parts).")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name: Any = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = cast(bytes, part.get_payload(decode=True) or b"")
        value: Any
        if filename is None:
            for charset in charsets:
                try:
                    value = payload.decode(charset)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise HTTPError(400, "The request entity could not be decoded.")
        else:
            headers = HeaderMap(part.items())
            value = Part(name, filename, part.get("Content-Type", "text/plain"), headers, payload)
        if name in params:
            existing = params[name]
            params[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            params[str(name)] = value
    return params
