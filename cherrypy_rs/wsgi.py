"""The WSGI gateway (PEP 3333) for applications grafted with ``tree.graft``, and the
other direction: cherrypy_rs applications as WSGI callables for any WSGI server.

Rust builds the CGI part of the environ (``_core.Request.environ``); this module adds the
``wsgi.*`` keys, runs the application, and hands Rust plain data: the status, the header
list, and the body as bytes, an iterator Rust pulls chunk by chunk, or a
``_core.FileBody`` that Rust reads from the file itself (``wsgi.file_wrapper``).
``close()`` on the application's result is called exactly once in every case.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Callable

from . import _core
from .lib.httputil import HeaderMap, response_codes

SERVER_SOFTWARE = f"cherrypy_rs/{_core.__version__}"

#: RFC 9110 §7.6.1 hop-by-hop headers: an application must not set them (PEP 3333).
HOP_BY_HOP: frozenset[str] = _core.HOP_BY_HOP

_ERROR_500 = (
    500,
    None,
    [("Content-Type", "text/plain; charset=utf-8")],
    b"Internal Server Error\n",
)


class WSGIError(Exception):
    """The application broke PEP 3333; the message says how."""


class FileWrapper:
    """``wsgi.file_wrapper``: iterates a file-like object in blocks.

    When the object is a real file, the gateway lets Rust send it from the file
    descriptor instead of iterating it in Python.
    """

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while True:
            data = read(self.blksize)
            if not data:
                return
            yield data


#: The ``start_response`` callable of one request, with its ``write`` (in Rust: it checks
#: what the application gives it as this module always did, raising ``WSGIError``).
_StartResponse = _core.StartResponse


def _head(start: _StartResponse) -> tuple[int, str | None, list[tuple[str, str]], int | None]:
    """Validated (code, reason, headers, declared Content-Length)."""
    status = start.status
    if status is None:
        raise WSGIError("the application never called start_response()")
    code_text, _, reason = status.partition(" ")
    if len(code_text) != 3 or not code_text.isdigit():
        raise WSGIError(f"the status {status!r} does not start with a 3-digit code")
    code = int(code_text)
    declared = None
    for item in start.headers:
        if type(item) is not tuple or len(item) != 2:
            raise WSGIError(f"each header must be a (name, value) tuple, not {item!r}")
        name, value = item
        if type(name) is not str or type(value) is not str:
            raise WSGIError(f"header names and values must be str: {item!r}")
        lower = name.lower()
        if lower in HOP_BY_HOP:
            raise WSGIError(f"the application set the hop-by-hop header {name!r}")
        if lower == "content-length":
            try:
                declared = int(value)
            except ValueError:
                raise WSGIError(f"Content-Length {value!r} is not a number") from None
    canonical = response_codes.get(code, ("",))[0]
    return code, (None if reason == canonical else reason), start.headers, declared


def _check_chunk(chunk: Any) -> bytes:
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, bytes):
        return bytes(chunk)
    raise WSGIError(
        f"the application's body must be bytes, not {type(chunk).__name__} "
        "(encode str before returning it)"
    )


class _Body:
    """The rest of a streamed body: chunks written with write(), the first chunk, then
    the application's iterator; truncated at a declared Content-Length. Rust calls
    ``close()`` once it is done, which closes the application's result once."""

    __slots__ = ("closed", "iterator", "pending", "remaining", "result")

    def __init__(
        self, pending: list[bytes], iterator: Iterator[Any], result: Any, declared: int | None
    ) -> None:
        self.pending = pending
        self.iterator = iterator
        self.result = result
        self.remaining = declared
        self.closed = False

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        if self.pending:
            chunk = self.pending.pop(0)
        else:
            chunk = _check_chunk(next(self.iterator))
        if self.remaining is not None:
            if self.remaining <= 0:
                raise StopIteration
            chunk = chunk[: self.remaining]
            self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            _close(self.result)


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


def _regular_file(filelike: Any) -> int | None:
    """The descriptor of a regular file, or None."""
    fileno = getattr(filelike, "fileno", None)
    if fileno is None:
        return None
    try:
        fd = fileno()
        return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


# The environ keys ``_core.Request.wsgi_environ`` sets on every request.
_PER_REQUEST_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_PROTOCOL",
    "SERVER_NAME",
    "SERVER_PORT",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "wsgi.url_scheme",
    "wsgi.errors",
    "wsgi.input",
)


class WSGIGateway:
    """Runs one WSGI application for requests the Rust router sends to its mount."""

    def __init__(
        self, app: Callable[..., Any], log_error: Callable[..., None], multiprocess: bool = False
    ) -> None:
        self.app = app
        self.log_error = log_error
        self.constant = {
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
            # Set on every request by ``wsgi_environ``: present here so that the copy
            # already has their slots (setting a key the dict has is cheaper than adding
            # one, and the copy need not grow for them).
            **dict.fromkeys(_PER_REQUEST_KEYS, ""),
        }

    def __call__(self, core: Any) -> Any:
        data = core.body
        stream = io.BytesIO(data) if data is not None else os.fdopen(core.body_fd(), "rb")
        # sys.stderr is looked up per request: it may be replaced (logging setups, pytest).
        environ = core.wsgi_environ(self.constant, sys.stderr, stream)
        try:
            return self.run(environ)
        finally:
            if data is None:
                stream.close()

    def run(self, environ: dict[str, Any]) -> Any:
        """(status, reason, headers, body), or a ``_core.WSGIReply`` for the worker."""
        start = _StartResponse()
        try:
            result = self.app(environ, start)
        except Exception:
            self.log_error(
                "WSGI application raised before returning a body", traceback=True, severity=40
            )
            return _ERROR_500
        try:
            if type(result) is list:
                # The common answer, made in Rust (None: anything else to judge here).
                reply = start.reply_list(result)
                if reply is not None:
                    return reply
            return self.respond(start, result)
        except Exception:
            _close(result)
            self.log_error(f"WSGI application {self.app!r} failed", traceback=True, severity=40)
            return _ERROR_500

    def respond(self, start: _StartResponse, result: Any) -> Any:
        if isinstance(result, (list, tuple)):
            chunks = [_check_chunk(c) for c in result]
            code, reason, headers, declared = _head(start)
            _close(result)
            body = b"".join(start.written + chunks) if start.written else b"".join(chunks)
            if declared is not None and declared != len(body):
                if declared < len(body):
                    body = body[:declared]
                else:
                    # Shorter than declared: stream it, hyper closes the connection.
                    return code, reason, headers, _Body([body], iter(()), None, declared)
            return code, reason, headers, body
        if isinstance(result, StaticResult) and not start.written:
            # Our own application under a WSGI middleware (VirtualHost...): Rust still
            # answers ranges and conditional requests for the file.
            code, reason, headers, _declared = _head(start)
            return code, reason, headers, result.file
        if isinstance(result, FileWrapper) and not start.written:
            fd = _regular_file(result.filelike)
            if fd is not None:
                code, reason, headers, declared = _head(start)
                offset = result.filelike.tell() if hasattr(result.filelike, "tell") else 0
                return code, reason, headers, _core.FileBody(fd, offset, declared, result)
        # An iterable: start_response may be called while producing the first chunk, so
        # the head is known only once a non-empty chunk (or the end) arrives.
        iterator = iter(result)
        pending = start.written
        if not pending:
            for chunk in iterator:
                if _check_chunk(chunk):
                    pending = [chunk]
                    break
        code, reason, headers, declared = _head(start)
        start.sent = True
        return code, reason, headers, _Body(list(pending), iterator, result, declared)


# -- cherrypy_rs applications as WSGI callables --------------------------------------


class EnvironRequest:
    """A WSGI environ seen through the interface of ``_core.Request``, so that the
    native request path can serve it."""

    app = 0

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = environ["REQUEST_METHOD"]
        self.protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        self.scheme = environ.get("wsgi.url_scheme", "http")
        self.script_name = environ.get("SCRIPT_NAME", "")
        raw = environ.get("PATH_INFO", "")
        try:
            # PEP 3333 gives ISO-8859-1 text; CherryPy reads the bytes as UTF-8.
            self.path_info = raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            self.path_info = raw
        self.path = self.script_name + raw
        self.query_string = environ.get("QUERY_STRING", "")
        length = environ.get("CONTENT_LENGTH") or "0"
        stream = environ.get("wsgi.input")
        self.body = stream.read(int(length)) if stream is not None and length != "0" else b""
        self.content_length = len(self.body)
        self.remote = (environ.get("REMOTE_ADDR", ""), int(environ.get("REMOTE_PORT") or 0))
        self.local = (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0))
        qs = f"?{self.query_string}" if self.query_string else ""
        self.request_line = f"{self.method} {self.path}{qs} {self.protocol}"

    def body_fd(self) -> None:
        return None

    def log_field(self, atom: str, value: str) -> None:
        """No access log of the server's here (another WSGI server's, if any)."""

    def ssl_environ(self) -> dict[str, str] | None:
        """The SSL_* keys the outer WSGI server put in the environ (None over HTTP)."""
        if self.scheme != "https":
            return None
        return {k: v for k, v in self.environ.items() if k.startswith("SSL_")}

    def header_items(self) -> list[tuple[str, str]]:
        items = []
        for key, value in self.environ.items():
            if key.startswith("HTTP_"):
                items.append((key[5:].replace("_", "-").title(), value))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                items.append((key.replace("_", "-").title(), value))
        return items

    def header(self, name: str) -> str | None:
        return HeaderMap(self.header_items()).get(name)


def serve_wsgi(
    handler: Callable[[Any], tuple[int, str | None, list[tuple[str, str]], Any]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    """Run a native handler for a WSGI request and answer through ``start_response``."""
    status, reason, headers, body = handler(EnvironRequest(environ))
    if reason is None:
        reason = response_codes.get(status, ("",))[0]
    start_response(f"{status} {reason}", headers)
    if isinstance(body, bytes):
        return [body]
    if isinstance(body, _core.StaticFile):
        return StaticResult(body)
    return body


class StaticResult:
    """A ``serve_file`` body answered through WSGI: our server sends the file itself;
    another WSGI server iterates it (the whole content in one chunk)."""

    __slots__ = ("file",)

    def __init__(self, file: Any) -> None:
        self.file = file

    def __iter__(self) -> Iterator[bytes]:
        data = self.file.read(sys.maxsize)
        return iter([data] if data else [])


class VirtualHost:
    """A WSGI application that picks another by the Host header
    (``cherrypy._cpwsgi.VirtualHost``): ``domains`` maps a Host value (with its port
    when the client sends one) to an application; ``default`` answers the others.

    With ``use_x_forwarded_host`` (the default) an ``X-Forwarded-Host`` header wins
    over ``Host``.
    """

    def __init__(
        self,
        default: Any,
        domains: dict[str, Any] | None = None,
        use_x_forwarded_host: bool = True,
    ) -> None:
        self.default = default
        self.domains = domains or {}
        self.use_x_forwarded_host = use_x_forwarded_host

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        domain = environ.get("HTTP_HOST", "")
        if self.use_x_forwarded_host:
            domain = environ.get("HTTP_X_FORWARDED_HOST", domain)
        app = self.domains.get(domain)
        if app is None:
            app = self.default
        return app(environ, start_response)
