"""The request and response objects (``cherrypy._cprequest.Request`` / ``Response``).

``Request`` wraps what Rust parsed (the ``core`` object) and builds everything a
handler may not need — headers, cookies, params, the body, addresses — on first use.
``Response`` holds the status, headers, cookies and body being built.
"""

from __future__ import annotations

import io
import logging
import os
import time
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar, overload

if TYPE_CHECKING:
    import uuid

from . import context, cookies
from ._core import StaticFile
from .bodies import RequestBody
from .bodies import release as release_body
from .errors import CHERRYPY_VERSION, HTTPError, InternalRedirect
from .hooks import HookMap, hookpoints
from .lib.httputil import (
    HeaderMap,
    Host,
    header_items,
    header_value,
    parse_query_string,
    response_codes,
    valid_status,
)

SERVER_HEADER = f"CherryPy/{CHERRYPY_VERSION}"
#: The headers every response starts with (``Response.headers``), as stored.
_DEFAULT_HEADERS = {"Content-Type": "text/html", "Server": SERVER_HEADER}
#: "200 OK" & co. by code: the status ``Response.finalize()`` leaves in ``status``.
_STATUS_LINES = {code: f"{code} {texts[0]}" for code, texts in response_codes.items()}
#: The same for the statuses whose responses carry a body (not 1xx, 204, 205, 304).
_BODY_LINES = {
    code: line
    for code, line in _STATUS_LINES.items()
    if 200 <= code < 600 and code not in (204, 205, 304)
}


_T = TypeVar("_T")


class _lazy(Generic[_T]):
    """Compute an attribute once per instance, on first access.

    Unlike ``functools.cached_property`` on Python 3.11, it takes no lock, and the
    value can be overwritten by plain assignment (handlers and tools may set it).
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, obj: None, owner: Any = None) -> _lazy[_T]: ...
    @overload
    def __get__(self, obj: object, owner: Any = None) -> _T: ...
    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value
        return value


class _RequestHooks:
    """``Request.hooks``: on the class, the hooks every request starts with; on a
    request, its own copy, made on first use (a request that never touches its hooks
    never copies them)."""

    def __init__(self) -> None:
        self.class_map = HookMap(hookpoints)

    def __get__(self, obj: Any, owner: Any = None) -> HookMap:
        if obj is None:
            return self.class_map
        hooks = self.class_map.copy()
        state = obj.__dict__
        state["hooks"] = hooks
        # A path that runs its tools' hooks inline (the session fast path, see
        # handler.do_respond): the hook points still to come join the map, after the
        # class-level ones, as the tools' _setup() would have attached them.
        planned = state.pop("_planned", None)
        if planned:
            for point, point_hooks in planned.items():
                hooks[point].extend(point_hooks)
        return hooks


class LazyUUID4:
    """``request.unique_id`` (CherryPy's ``_cprequest.LazyUUID4``): a UUID4 drawn on
    first use; ``str()`` gives its hyphenated form."""

    __slots__ = ("_uuid4",)

    def __str__(self) -> str:
        return str(self.uuid4)

    @property
    def uuid4(self) -> uuid.UUID:
        """The UUID, drawn on first access and kept."""
        try:
            return self._uuid4
        except AttributeError:
            # Lazy: most requests never draw one (uuid costs ~1.4 MiB per process).
            import uuid

            self._uuid4: uuid.UUID = uuid.uuid4()
            return self._uuid4


class _Login:
    """``request.login`` (None until a tool or handler sets it). Setting it hands the
    value to the server for the access log's ``u`` atom, as CherryPy logs it."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None
        return obj.__dict__.get("login")

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["login"] = value
        obj._core.log_field("u", str(value) if value else "")


class _RequestLine:
    """``request.request_line``: as received, read from Rust on first use. Setting it
    hands the new line to the server for the access log's ``r`` atom."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        line = d.get("request_line")
        if line is None:
            line = d["request_line"] = obj._core.request_line
        return line

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["request_line"] = value
        obj._core.log_field("r", str(value))


class _ClientHost(Host):
    """``request.remote``: setting ``name`` or ``ip`` (tools.proxy does) hands
    ``name or ip`` to the server for the access log's ``h`` atom."""

    _core: Any

    def __init__(self, ip: str, port: int, core: Any) -> None:
        d = self.__dict__
        d["ip"] = ip
        d["port"] = port
        d["name"] = ""
        d["_core"] = core

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in ("ip", "name"):
            self._core.log_field("h", str(self.name or self.ip))


class _Remote:
    """``request.remote``: the client's address, built on first use; a new address
    set here is handed to the server for the access log's ``h`` atom."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        remote = d.get("remote")
        if remote is None:
            core = obj._core
            ip, port = core.remote
            remote = d["remote"] = _ClientHost(ip, port, core)
        return remote

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["remote"] = value
        obj._core.log_field("h", str(getattr(value, "name", "") or getattr(value, "ip", "")))


#: Request headers the access log shows, by the atom they fill.
_LOGGED_HEADERS = {"Referer": "f", "User-Agent": "a"}


class _RequestHeaders(HeaderMap):
    """``request.headers``: setting (or deleting) ``Referer`` or ``User-Agent`` hands
    the new value to the server for the access log, as CherryPy logs them."""

    __slots__ = ("_core",)
    _core: Any

    def __setitem__(self, key: Any, value: Any) -> None:
        HeaderMap.__setitem__(self, key, value)
        atom = _LOGGED_HEADERS.get(self.transform_key(key))
        core = getattr(self, "_core", None)
        if atom is not None and core is not None:
            core.log_field(atom, str(value))

    def __delitem__(self, key: Any) -> None:
        HeaderMap.__delitem__(self, key)
        atom = _LOGGED_HEADERS.get(self.transform_key(key))
        core = getattr(self, "_core", None)
        if atom is not None and core is not None:
            core.log_field(atom, "")


class _Handler:
    """``request.handler``: None until the request is dispatched. A plain path
    (``handler.RequestHandler.respond_plain``) calls its page handler directly and
    leaves ``(PageHandler class, callable, args)`` here instead: the ``PageHandler``
    is built on first read (most requests never read it). Setting it replaces it."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None
        state = obj.__dict__
        pending = state.pop("_page_handler", None)
        if pending is None:
            return None
        cls, func, args = pending
        handler = state["handler"] = cls(func, args)
        return handler


def _default_error_response() -> None:
    """The 500 page (``request.error_response`` unless a tool replaces it)."""
    HTTPError(500).set_response()


class Request:
    """``cherrypy.request``: the request being handled, with CherryPy's attributes."""

    #: The hook points' callbacks (see ``hooks.HookMap``); hooks attached to the class
    #: (``Request.hooks.attach``) run for every request.
    hooks = _RequestHooks()
    #: Exceptions that propagate out of the request instead of becoming a 500.
    throws: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit, InternalRedirect)
    #: Builds the error page; None skips it (CherryPy tests it for truth, as handler.py does).
    error_response: Callable[[], None] | None = staticmethod(_default_error_response)

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
    #: The page handler (None until dispatched).
    handler: Any = _Handler()
    #: The authenticated user (the access log's ``u``).
    login = _Login()
    closed = False
    stage: str | None = None
    multithread = True
    multiprocess = False
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    config: dict[str, Any] = {}
    #: Request-level config namespaces an application adds (``name -> handler(k, v)``);
    #: request, response, error_page, hooks and the toolboxes are built in.
    namespaces: dict[str, Callable[..., Any]] = {}

    if TYPE_CHECKING:
        # Applications and tools keep their own attributes on it (CherryPy's idiom,
        # ``cherrypy.request.user = ...``): type checkers allow any other name, as Any.
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

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
        self.method: str
        self.path_info: str
        self.query_string: str
        self._body_bytes: bytes | None
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
    def script_name(self) -> str:
        """The mount point of the application ("" for the root)."""
        return self._core.script_name  # type: ignore[no-any-return]

    @_lazy
    def toolmaps(self) -> dict[str, Any]:
        """Tool arguments by toolbox and tool, from config (``{"tools": {...}}``), for
        tools that are on and for those that are not (a ``HandlerTool.handler`` reads
        its config arguments here): this request's copy of its path's, made on first
        use."""
        pc = self.__dict__.get("path_config")
        if pc is None:
            return {}
        return {
            ns: {name: dict(args) for name, args in toolmap.items()}
            for ns, toolmap in pc.toolmaps.items()
        }

    @_lazy
    def header_list(self) -> list[tuple[str, str]]:
        """The request headers as received: (name, value) pairs."""
        return list(self._core.header_items())

    @_lazy
    def unique_id(self) -> LazyUUID4:
        """A random id for this request: a UUID4, drawn when first rendered
        (``str(request.unique_id)``, the access log's ``i``) or read (``.uuid4``)."""
        return LazyUUID4()

    def close(self) -> None:
        """Run the ``on_end_request`` hooks and release the request body's file
        (once, after the response was produced and, when streamed, sent)."""
        if self.closed:
            return
        self.closed = True
        self.stage = "on_end_request"
        state = self.__dict__
        hooks = state.get("hooks")
        try:
            if hooks is not None:
                hooks.run("on_end_request")
            elif "_planned" in state:
                planned = state["_planned"].pop("on_end_request", None)
                if planned:
                    HookMap.run_sorted(planned)
        finally:
            self.stage = "close"
            request: Request | None = self
            while request is not None:
                # Multipart part files and the spooled body (see bodies.release).
                state = request.__dict__
                body = state.get("body")
                rfile = state.get("rfile")
                if body is not None or rfile is not None:
                    release_body(body, rfile)
                request = request.prev

    @_lazy
    def protocol(self) -> tuple[int, int]:
        """The version both sides speak: the lower of the client's and the server's."""
        major, _, minor = self._core.protocol[5:].partition(".")
        return min((int(major), int(minor or 0)), (1, 1))

    #: The first line of the request, as received.
    request_line = _RequestLine()

    @_lazy
    def scheme(self) -> str:
        return self._core.scheme

    @_lazy
    def headers(self) -> HeaderMap:
        """Request headers (case-insensitive; repeated headers joined with ", ",
        cookies with "; "), with CherryPy's ``Remote-Addr``."""
        core = self._core
        into = _RequestHeaders()
        into._core = core
        return header_items(core.header_items(), core.remote[0], into)

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

    def _header(self, name: str) -> str | None:
        """The value ``request.headers.get(name)`` gives, without building the header
        map when nothing has yet (and the value has no RFC 2047 encoded-word)."""
        headers = self.__dict__.get("headers")
        if headers is None:
            value = self._core.header(name)
            if value is None or "=?" not in value:
                return value  # type: ignore[no-any-return]
            headers = self.headers
        return headers.get(name)  # type: ignore[no-any-return]

    @_lazy
    def cookie(self) -> SimpleCookie:
        """The request's cookies."""
        try:
            return cookies.load_jar(self._header("Cookie"))
        except CookieError as exc:
            raise HTTPError(400, str(exc)) from None

    @_lazy
    def rfile(self) -> Any:
        """The raw request body as a binary file: in memory, or the temporary file Rust
        spooled a large body to (CherryPy: the socket's reader)."""
        if self._body_bytes is not None:
            return io.BytesIO(self._body_bytes)
        data = self._core.body
        if data is None:
            fp = os.fdopen(self._core.body_fd(), "rb")
            fp.seek(0)
            return fp
        return io.BytesIO(data)

    @_lazy
    def body(self) -> RequestBody:
        """The request entity (see cherrypy_rs.bodies.RequestBody)."""
        return RequestBody(self.rfile, self.headers, request_params=self.params)

    #: The client's address (``ip``, ``port``, ``name``).
    remote = _Remote()

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
        ``wsgi.url_scheme``, ``SERVER_NAME``/``SERVER_PORT`` (the address that took
        the connection), ``SERVER_PROTOCOL``, ``REMOTE_ADDR``/``REMOTE_PORT`` and, over
        TLS, ``HTTPS`` and the ``SSL_*`` keys."""
        local, remote = self.local, self.remote
        environ: dict[str, Any] = {
            "wsgi.url_scheme": self.scheme,
            "SERVER_NAME": local.name,
            "SERVER_PORT": str(local.port),
            "SERVER_PROTOCOL": self._core.protocol,
            "REMOTE_ADDR": remote.ip,
            "REMOTE_PORT": str(remote.port),
        }
        if self.ssl is not None:
            environ["HTTPS"] = "on"
            environ.update(self.ssl)
        return environ


class Response:
    """``cherrypy.response``: status, headers, cookies and body being built."""

    stream = False
    timeout = 300
    timed_out = False

    if TYPE_CHECKING:
        # Applications and tools keep their own attributes on it (CherryPy's idiom,
        # ``cherrypy.request.user = ...``): type checkers allow any other name, as Any.
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def __init__(self) -> None:
        # HeaderMap() without its __init__ (an update through __setitem__ of nothing),
        # filled with the defaults as they are stored (title-cased already).
        headers = HeaderMap.__new__(HeaderMap)
        dict.update(headers, _DEFAULT_HEADERS)
        self.status: Any = 200
        self.headers = headers
        self.body: Any = None
        self.header_list: list[tuple[str, str]] | None = None

    @_lazy
    def cookie(self) -> SimpleCookie:
        """Cookies to set (``response.cookie['name'] = 'value'``)."""
        jar = SimpleCookie()
        later = self.__dict__.pop("_set_cookie", None)
        if later is not None:
            # A cookie set by _set_cookie_text joins the jar as a Morsel.
            template, value, expires = later
            dict.__setitem__(jar, template.name, template.morsel(value, expires))
        return jar

    def _set_cookie_text(
        self, template: cookies.SetCookie, value: str, expires: str | None
    ) -> bool:
        """Set ``template``'s cookie to ``value`` (``template.plain(value)``) with the
        ``expires`` date, as ``response.cookie[name] = value`` and its attributes would,
        without building the jar unless the application then reads it; False (nothing
        done) once the jar exists or a cookie was set so already."""
        state = self.__dict__
        if "cookie" in state or "_set_cookie" in state:
            return False
        state["_set_cookie"] = (template, value, expires)
        return True

    @_lazy
    def time(self) -> float:
        return time.time()

    def collapse_body(self) -> bytes:
        """Join the body into one bytes object (consuming an iterator), keep it as the
        body's one chunk (``response.body[0]``, as in CherryPy) and return it."""
        body = as_bytes(self.body)
        self.body = [body] if body else []
        return body

    def check_timeout(self) -> None:
        """CherryPy's hook for long requests; cherrypy_rs has no response timeout."""

    #: Set by ``finalize()``: the numeric status and the reason phrase (None: the
    #: standard one), as Rust sends them.
    status_code = 200
    reason: str | None = None

    @property
    def output_status(self) -> bytes:
        """The status line's code and reason (``b"200 OK"``), once finalized."""
        code, reason, _ = valid_status(self.status_code)
        return f"{code} {self.reason or reason}".encode("latin-1")

    def _declared_body(self, body: Any, declared: Any) -> bytes:
        """The body of a response whose handler set ``Content-Length``, as cheroot sends
        it: when the first chunk alone is longer, a plain-text 500 instead; when a later
        one goes past it, the body cut at the declared length (and an error logged). A
        shorter body is sent whole, with its true length (Rust frames it)."""
        try:
            remaining = int(declared)
        except (TypeError, ValueError):
            return as_bytes(body)
        chunks = [body] if body is None or isinstance(body, (bytes, str)) else body
        out: list[bytes] = []
        try:
            for chunk in chunks:
                chunk = as_bytes(chunk)
                if not chunk:
                    continue
                if len(chunk) <= remaining:
                    out.append(chunk)
                    remaining -= len(chunk)
                    continue
                if not out:
                    message = (
                        b"The requested resource returned more bytes than the declared "
                        b"Content-Length."
                    )
                    self.status_code, self.reason = 500, None
                    self.status = "500 Internal Server Error"
                    dict.clear(self.headers)
                    dict.__setitem__(self.headers, "Content-Type", "text/plain")
                    return message
                out.append(chunk[:remaining])
                context.site.log.error(
                    f"Response body exceeds the declared Content-Length: cut at {declared} bytes",
                    severity=logging.ERROR,
                )
                break
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return b"".join(out)

    def finalize(self) -> None:
        """Check the status, settle the body (collapsed unless streamed; none for
        1xx/204/205/304) and build ``header_list`` with the cookies."""
        status = self.status
        reason: str | None = None
        line = _BODY_LINES.get(status) if status.__class__ is int else None
        if line is not None:
            # A standard status whose response has a body.
            no_body = False
        elif status.__class__ is int and 200 <= status < 600:
            line = _STATUS_LINES.get(status) or f"{status} {valid_status(status)[1]}"
            no_body = status in (204, 205, 304)
        else:
            try:
                status, reason, _ = valid_status(status)
            except ValueError as exc:
                raise HTTPError(500, exc.args[0]) from None
            line = (
                f"{status} {reason}"
                if reason is not None
                else _STATUS_LINES.get(status) or f"{status} {valid_status(status)[1]}"
            )
            no_body = status < 200 or status in (204, 205, 304)
        self.status_code = status
        self.reason = reason
        # CherryPy leaves the status line here ("200 OK") for later hooks (on_end_resource).
        self.status = line
        headers = self.headers
        body = self.body
        if self.stream and not no_body:
            # Streamed (chunked) whatever the body is, as CherryPy does.
            if dict.get(headers, "Content-Length") is None:
                dict.pop(headers, "Content-Length", None)
            if body is None:
                body = []
            elif isinstance(body, bytes):
                body = [body]
        elif no_body:
            dict.pop(headers, "Content-Length", None)
            if body is not None and not isinstance(body, (bytes, str, StaticFile)):
                as_bytes(body)
            body = b""
        elif body.__class__ is not StaticFile:
            declared = dict.get(headers, "Content-Length")
            if declared is not None:
                body = self._declared_body(body, declared)
            elif body.__class__ is not bytes:
                body = as_bytes(body)
        self.body = body
        header_list = list(dict.items(headers))
        for _, v in header_list:
            if v.__class__ is not str or not v.isascii():
                # Latin-1 text as it is; other values RFC 2047-encoded, as CherryPy
                # sends them.
                header_list = [
                    (k, v if v.__class__ is str and v.isascii() else header_value(v))
                    for k, v in header_list
                ]
                break
        state = self.__dict__
        if "cookie" in state:
            output = cookies.output
            for morsel in self.cookie.values():
                header_list.append(("Set-Cookie", output(morsel)))
        elif "_set_cookie" in state:
            template, value, expires = state["_set_cookie"]
            header_list.append(("Set-Cookie", template.text(value, expires)))
        self.header_list = header_list


def as_bytes(body: Any) -> bytes:
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


#: The class-level hook map every request starts from.
CLASS_HOOKS: HookMap = Request.hooks
