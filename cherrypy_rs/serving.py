"""The per-request objects and the request path in Python.

``cherrypy.request`` and ``cherrypy.response`` are proxies over one ``ContextVar`` that
holds the current ``(Request, Response)`` pair (Flask's ``globals.py`` pattern).
``RequestHandler`` is what a Rust worker thread calls for each request: it dispatches,
runs the page handler, turns errors into CherryPy's responses, and returns plain
``(status, reason, headers, body)`` for Rust to send.

Anything a handler may not need (headers, cookies, params, the body, addresses) is
built on first use.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from contextvars import ContextVar
from http.cookies import CookieError, SimpleCookie
from typing import Any, Callable

from . import dispatch
from ._core import StaticFile
from .errors import (
    CHERRYPY_VERSION,
    HTTPError,
    HTTPRedirect,
    InternalRedirect,
    NotFound,
    bare_error,
    format_exc,
)
from .lib.httputil import (
    HeaderElement,
    HeaderMap,
    Host,
    header_items,
    parse_pairs,
    parse_query_string,
    valid_status,
)

_current: ContextVar[tuple[Request, Response] | None] = ContextVar(
    "cherrypy_rs.serving", default=None
)

_OUTSIDE = (
    "cherrypy.{} is only available while a request is being handled (inside a page "
    "handler or a tool); this code ran outside of one."
)

SERVER_HEADER = f"CherryPy/{CHERRYPY_VERSION}"


def request_or_none() -> Request | None:
    """The current request, or None outside of a request."""
    pair = _current.get()
    return pair[0] if pair is not None else None


def response_or_none() -> Response | None:
    """The current response, or None outside of a request."""
    pair = _current.get()
    return pair[1] if pair is not None else None


def request_or_raise() -> Request:
    pair = _current.get()
    if pair is None:
        raise RuntimeError(_OUTSIDE.format("request"))
    return pair[0]


def response_or_raise() -> Response:
    pair = _current.get()
    if pair is None:
        raise RuntimeError(_OUTSIDE.format("response"))
    return pair[1]


class _lazy:
    """Compute an attribute once per instance, on first access.

    Unlike ``functools.cached_property`` on Python 3.11, it takes no lock, and the
    value can be overwritten by plain assignment (handlers and tools may set it).
    """

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value
        return value


class RequestBody:
    """``request.body``: the request entity, read by Rust before the handler runs.

    ``params`` holds decoded form fields (application/x-www-form-urlencoded);
    ``read()``, ``readline()``, ``readlines()`` and iteration give the raw bytes.
    """

    attempt_charsets = ("utf-8",)
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
    import email.parser
    import email.policy

    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    if not message.is_multipart():
        raise HTTPError(400, "Invalid multipart/form-data body (no boundary or no parts).")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
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


class Request:
    """``cherrypy.request``: the request being handled, with CherryPy's attributes."""

    prev: Request | None = None
    show_tracebacks = True
    show_mismatched_params = True
    throw_errors = False
    error_page: dict[Any, Any] = {}
    methods_with_bodies = ("POST", "PUT", "PATCH")
    process_request_body = True
    query_string_encoding = "utf8"
    recursive_redirect = False
    is_index: bool | None = None
    handler: Any = None
    login: str | None = None
    closed = False
    stage: str | None = None
    multithread = True
    multiprocess = False
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    toolmaps: dict[str, Any] = {}
    config: dict[str, Any] = {}

    def __init__(
        self,
        core: Any,
        app: Any,
        method: str | None = None,
        path_info: str | None = None,
        query_string: str | None = None,
        body: bytes | None = None,
    ) -> None:
        self._core = core
        self.app = app
        self.script_name = core.script_name
        if method is None:
            self.method = core.method
            # "" for a request to exactly an application's script name (/api).
            self.path_info = core.path_info
            self.query_string = core.query_string
            self._body_bytes = None
        else:
            # An internal redirect: a new GET for another path of the same app.
            self.method = method
            self.path_info = path_info or "/"
            self.query_string = query_string or ""
            self._body_bytes = body

    #: The protocol the server speaks.
    server_protocol = "HTTP/1.1"

    @_lazy
    def protocol(self) -> tuple[int, int]:
        """The version both sides speak: the lower of the client's and the server's."""
        major, _, minor = self._core.protocol[5:].partition(".")
        return min((int(major), int(minor or 0)), (1, 1))

    @_lazy
    def request_line(self) -> str:
        """The first line of the request, as received."""
        return self._core.request_line

    @_lazy
    def scheme(self) -> str:
        return self._core.scheme

    @_lazy
    def headers(self) -> HeaderMap:
        """Request headers (case-insensitive; repeated headers joined with ", ")."""
        return header_items(self._core.header_items())

    @_lazy
    def params(self) -> dict[str, Any]:
        """Query-string and form parameters; repeated names give lists."""
        qs = self.query_string
        if not qs:
            return {}
        try:
            return parse_query_string(qs, encoding=self.query_string_encoding)
        except UnicodeDecodeError:
            raise HTTPError(
                404,
                "The given query string could not be processed. Query strings for this "
                f"resource must be encoded with {self.query_string_encoding!r}.",
            ) from None

    @_lazy
    def cookie(self) -> SimpleCookie:
        """The request's cookies."""
        jar: SimpleCookie = SimpleCookie()
        value = self.headers.get("Cookie")
        if value:
            try:
                jar.load(value)
            except CookieError as exc:
                raise HTTPError(400, str(exc)) from None
        return jar

    @_lazy
    def body(self) -> RequestBody:
        """The request entity (see RequestBody)."""
        if self._body_bytes is not None:
            data = self._body_bytes
        else:
            data = self._core.body
            if data is None:
                # Spooled to a temporary file by Rust (large bodies): read it from there.
                fp = os.fdopen(self._core.body_fd(), "rb")
                fp.seek(0)
                return RequestBody(fp, self._core.content_length, self.headers, self.params)
        return RequestBody(io.BytesIO(data), len(data), self.headers, self.params)

    @_lazy
    def rfile(self) -> io.BytesIO:
        return self.body.fp

    @_lazy
    def remote(self) -> Host:
        """The client's address."""
        ip, port = self._core.remote
        return Host(ip, port, "")

    @_lazy
    def local(self) -> Host:
        """The server address that received the request."""
        ip, port = self._core.local
        # CherryPy leaves local.ip empty and puts the address in local.name.
        return Host("", port, ip)

    @_lazy
    def base(self) -> str:
        """scheme://host of the request (from the Host header)."""
        host = self.headers.get("Host") or self.local.name or self.local.ip
        return f"{self.scheme}://{host}"

    @_lazy
    def ssl(self) -> dict[str, str] | None:
        """The connection's TLS details as mod_ssl names them (SSL_PROTOCOL, SSL_CIPHER,
        SSL_CLIENT_VERIFY, SSL_CLIENT_S_DN, SSL_CLIENT_CERT...); None on plain HTTP."""
        return self._core.ssl_environ()

    @_lazy
    def wsgi_environ(self) -> dict[str, Any]:
        """What CherryPy apps read from the WSGI environ about the connection:
        ``wsgi.url_scheme`` and, over TLS, ``HTTPS`` and the ``SSL_*`` keys."""
        environ: dict[str, Any] = {"wsgi.url_scheme": self.scheme}
        if self.ssl is not None:
            environ["HTTPS"] = "on"
            environ.update(self.ssl)
        return environ


class Response:
    """``cherrypy.response``: status, headers, cookies and body being built."""

    stream = False
    timeout = 300
    timed_out = False

    def __init__(self) -> None:
        self.status: Any = 200
        headers = HeaderMap()
        dict.__setitem__(headers, "Content-Type", "text/html")
        dict.__setitem__(headers, "Server", SERVER_HEADER)
        self.headers = headers
        self.body: Any = None
        self.header_list: list[tuple[str, str]] | None = None

    @_lazy
    def cookie(self) -> SimpleCookie:
        """Cookies to set (``response.cookie['name'] = 'value'``)."""
        return SimpleCookie()

    @_lazy
    def time(self) -> float:
        import time

        return time.time()

    def collapse_body(self) -> bytes:
        """Join the body into one bytes object (consuming an iterator) and keep it."""
        body = _as_bytes(self.body)
        self.body = body
        return body

    def check_timeout(self) -> None:
        """CherryPy's hook for long requests; cherrypy_rs has no response timeout."""


def _as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        raise ValueError(
            "Page handlers MUST return bytes. Use tools.encode if you wish to return unicode."
        )
    chunks = []
    try:
        for chunk in body:
            if isinstance(chunk, str):
                raise ValueError(
                    "Page handlers MUST return bytes. Use tools.encode if you wish to "
                    "return unicode."
                )
            chunks.append(chunk)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return b"".join(chunks)


def _encode_output(output: Any, request: Request, response: Response) -> Any:
    """What ``tools.encode`` does to a handler's output: str → bytes, and a charset on
    text/* content types."""
    config = request.config
    if not config.get("tools.encode.on", True):
        return output
    encoding = config.get("tools.encode.encoding", "utf-8")
    headers = response.headers
    ctype = dict.get(headers, "Content-Type")
    text_only = config.get("tools.encode.text_only", True)
    if ctype is not None and (not text_only or str(ctype).lower().startswith("text/")):
        if "charset" not in str(ctype).lower():
            dict.__setitem__(headers, "Content-Type", f"{ctype};charset={encoding}")
    elif text_only:
        # CherryPy leaves non-text output alone: str output is then an error.
        return output
    if isinstance(output, str):
        return output.encode(encoding)
    if output is None or isinstance(output, (bytes, StaticFile)):
        return output
    if isinstance(output, (list, tuple)):
        return [c.encode(encoding) if isinstance(c, str) else c for c in output]
    return _encode_stream(output, encoding)


def _encode_stream(chunks: Any, encoding: str) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk.encode(encoding) if isinstance(chunk, str) else chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def trailing_slash(
    request: Request, missing: bool = True, extra: bool = False, status: int | None = None
) -> None:
    """``tools.trailing_slash``: redirect to add (or remove) the final slash."""
    from .helper import url

    pi = request.path_info
    if request.is_index is True:
        if missing and not pi.endswith("/"):
            raise HTTPRedirect(url(pi + "/", request.query_string), status=status or 301)
    elif request.is_index is False and extra and pi.endswith("/") and pi != "/":
        raise HTTPRedirect(url(pi[:-1], request.query_string), status=status or 301)


def _serve_static(tool: str, kwargs: dict[str, Any]) -> bool:
    from .lib import static

    serve = static.staticdir if tool == "staticdir" else static.staticfile
    return bool(serve(**kwargs))


def _uri(path: str, query_string: str) -> str:
    return f"{path}?{query_string}" if query_string else path


def _release(request: Request) -> None:
    """Close a spooled body's file (and those of internal-redirect predecessors)."""
    while request is not None:
        body = request.__dict__.get("body")
        if body is not None and not isinstance(body.fp, io.BytesIO):
            body.fp.close()
        request = request.prev  # type: ignore[assignment]


class RequestHandler:
    """Called by a Rust worker thread for every request to a mounted application."""

    def __init__(
        self, apps: list[Any], global_config: dict[str, Any], log_error: Callable[..., None]
    ) -> None:
        #: Applications by their index in the Rust router.
        self.apps = apps
        self.global_config = global_config
        self.log_error = log_error

    def __call__(self, core: Any) -> tuple[int, str | None, list[tuple[str, str]], Any]:
        app = self.apps[core.app]
        request = Request(core, app)
        response = Response()
        token = _current.set((request, response))
        try:
            # URIs (path?query) already served for this client request: a repeat is a
            # loop (CherryPy's InternalRedirector raises RuntimeError → 500).
            redirections: list[str] = []
            while True:
                try:
                    self.respond(request, response)
                    break
                except InternalRedirect as ir:
                    redirections.append(_uri(request.path_info, request.query_string))
                    target = _uri(ir.path, ir.query_string)
                    if not request.recursive_redirect and target in redirections:
                        # CherryPy raises out of the application here: the server sends
                        # its bare text/plain 500.
                        try:
                            raise RuntimeError(
                                f"InternalRedirector visited the same URL twice: {target!r}"
                            ) from None
                        except RuntimeError:
                            return self.bare_error(request)
                    previous = request
                    request = Request(core, app, "GET", ir.path, ir.query_string, b"")
                    request.prev = previous
                    response = Response()
                    _current.set((request, response))
            return self.finalize(request, response)
        except Exception:
            return self.bare_error(request)
        finally:
            _current.reset(token)
            _release(request)

    def bare_error(self, request: Request) -> tuple[int, str | None, list[tuple[str, str]], Any]:
        """CherryPy's last-resort 500 (text/plain), for errors outside the handler's
        error handling; the traceback is logged, and shown if show_tracebacks is on."""
        tb = format_exc()
        self.log_error(tb, severity=logging.ERROR)
        _status, headers, body = bare_error(tb if request.show_tracebacks else "")
        return (500, None, [(k.decode(), v.decode()) for k, v in headers], body[0])

    def respond(self, request: Request, response: Response) -> None:
        """Dispatch and run the handler, turning exceptions into responses."""
        try:
            try:
                self.run_handler(request, response)
            except (HTTPRedirect, HTTPError) as inst:
                inst.set_response()
        except InternalRedirect:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            if request.throw_errors:
                raise
            self.log_error(traceback=True, severity=logging.ERROR)
            response.headers.pop("Content-Length", None)
            HTTPError(500).set_response()

    def run_handler(self, request: Request, response: Response) -> None:
        app = request.app
        resolution = dispatch.find(app.dispatcher, app, request.path_info, self.global_config)
        config = resolution.config
        request.config = config
        request.is_index = resolution.is_index
        for name, value in resolution.request_attrs:
            setattr(request, name, value)
        for name, value in resolution.response_attrs:
            setattr(response, name, value)
        for name, value in resolution.response_headers:
            response.headers[name] = value
        # CherryPy parses the query string before dispatching the body or the handler.
        params = request.params
        if request.process_request_body and request.method in request.methods_with_bodies:
            headers = request.headers
            if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                raise HTTPError(411)
            request.body.process()
        if resolution.static is not None and _serve_static(*resolution.static):
            # Served by tools.staticdir/staticfile: the page handler does not run.
            return
        handler = resolution.handler
        if handler is None:
            raise NotFound()
        if config.get("tools.trailing_slash.on", True):
            trailing_slash(
                request,
                config.get("tools.trailing_slash.missing", True),
                config.get("tools.trailing_slash.extra", False),
                config.get("tools.trailing_slash.status"),
            )
        request.handler = handler
        vpath = [atom.replace("%2F", "/") for atom in resolution.vpath]
        request.args = tuple(vpath)
        request.kwargs = params
        output = dispatch.call_handler(handler, vpath, request)
        response.body = _encode_output(output, request, response)

    def finalize(
        self, request: Request, response: Response
    ) -> tuple[int, str | None, list[tuple[str, str]], Any]:
        """Status, header list and body (bytes or an iterator when streaming)."""
        status = response.status
        reason: str | None = None
        if status.__class__ is not int or not 200 <= status < 600:
            try:
                status, reason, _ = valid_status(status)
            except ValueError as exc:
                response.status = 500
                HTTPError(500, exc.args[0]).set_response()
                status = 500
        headers = response.headers
        body = response.body
        if response.stream and not (status < 200 or status in (204, 205, 304)):
            # Streamed (chunked) whatever the body is, as CherryPy does.
            if dict.get(headers, "Content-Length") is None:
                dict.pop(headers, "Content-Length", None)
            if body is None:
                body = []
            elif isinstance(body, bytes):
                body = [body]
        elif status < 200 or status in (204, 205, 304):
            dict.pop(headers, "Content-Length", None)
            if body is not None and not isinstance(body, (bytes, str, StaticFile)):
                _as_bytes(body)
            body = b""
        elif body.__class__ is not StaticFile:
            try:
                body = _as_bytes(body)
            except ValueError:
                self.log_error(traceback=True, severity=logging.ERROR)
                response.status = 500
                response.body = None
                HTTPError(500).set_response()
                return self.finalize(request, response)
        header_list = [(k, v if v.__class__ is str else str(v)) for k, v in dict.items(headers)]
        if "cookie" in response.__dict__:
            for morsel in response.cookie.values():
                header_list.append(("Set-Cookie", morsel.OutputString()))
        response.header_list = header_list
        return status, reason, header_list, body


def __getattr__(name: str) -> Any:
    """``cherrypy.serving.request`` / ``.response``, as CherryPy's tools use them."""
    if name == "request":
        return request_or_raise()
    if name == "response":
        return response_or_raise()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _ContextProxy:
    """``cherrypy.request`` / ``cherrypy.response``: forwards to the current object."""

    __slots__ = ("_index", "_name")

    def __init__(self, index: int, name: str) -> None:
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_name", name)

    def _target(self) -> Any:
        pair = _current.get()
        if pair is None:
            raise RuntimeError(_OUTSIDE.format(object.__getattribute__(self, "_name")))
        return pair[object.__getattribute__(self, "_index")]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._target(), name)

    def __repr__(self) -> str:
        pair = _current.get()
        name = object.__getattribute__(self, "_name")
        if pair is None:
            return f"<cherrypy.{name} (no request in progress)>"
        return repr(pair[object.__getattribute__(self, "_index")])

    def __bool__(self) -> bool:
        return _current.get() is not None
