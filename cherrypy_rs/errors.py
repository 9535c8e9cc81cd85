"""CherryPy's exceptions (``cherrypy._cperror``): HTTPError, HTTPRedirect, NotFound,
InternalRedirect, and the HTML error page, with CherryPy 18's statuses and bodies."""

from __future__ import annotations

import contextlib
import sys
import traceback as _traceback
import urllib.parse
from collections.abc import Iterator
from typing import Any

from . import context
from ._core import StaticFile
from ._html import escape as _escape_html
from .helper import url as current_url
from .lib.httputil import valid_status

#: The CherryPy release whose behaviour cherrypy_rs reproduces.
CHERRYPY_VERSION = "18.10.0"


class CherryPyException(Exception):
    """Base class for CherryPy exceptions."""


class TimeoutError(CherryPyException):
    """Exception raised when Response.timed_out is detected."""


class InternalRedirect(CherryPyException):
    """Switch to the handler of another path of this application, invisibly to the client.

    The new request is a GET without a body; ``path`` may carry a query string and is
    resolved relative to the current ``request.path_info``.
    """

    def __init__(self, path: str, query_string: str = "") -> None:
        self.request = context.request_or_none()
        self.query_string = query_string
        if "?" in path:
            path, self.query_string = path.split("?", 1)
        base = self.request.path_info if self.request is not None else "/"
        self.path = urllib.parse.urljoin(base, path)
        super().__init__(self.path, self.query_string)


_REDIRECT_MESSAGES = {
    300: "This resource can be found at ",
    301: "This resource has permanently moved to ",
    302: "This resource resides temporarily at ",
    303: "This resource can be found at ",
    307: "This resource has moved temporarily to ",
    308: "This resource has been moved to ",
}


def _quote_attribute(value: str) -> str:
    """``value`` as a quoted XML attribute, as ``xml.sax.saxutils.quoteattr`` writes it
    (CherryPy's redirect links): ``&<>`` and tab/CR/LF escaped, wrapped in double quotes
    unless it holds only double quotes. Written here because ``xml.sax.saxutils`` imports
    ``urllib.request`` and with it ``http.client``, ``email`` and ``ssl`` (~9 MiB of RSS
    in every process)."""
    value = _escape_html(value, quote=False)
    value = value.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in value:
        if "'" in value:
            return '"{}"'.format(value.replace('"', "&quot;"))
        return f"'{value}'"
    return f'"{value}"'


#: Characters urljoin would silently delete (turning "/a\r\nb" into "/ab") or that a
#: header value cannot hold: percent-encoded in redirect targets instead.
_URL_CONTROLS = str.maketrans({"\r": "%0D", "\n": "%0A", "\t": "%09", "\x00": "%00"})


def _escape_controls(url: str) -> str:
    return url.translate(_URL_CONTROLS)


class HTTPRedirect(CherryPyException):
    """Redirect the client to one or more URLs.

    Relative URLs are resolved against the current request's URL. The status defaults to
    303 (302 for an HTTP/1.0 client) and must be between 300 and 399.
    """

    encoding = "utf-8"

    def __init__(self, urls: Any, status: int | str | None = None, encoding: Any = None) -> None:
        if isinstance(urls, (bytes, str)):
            urls = [urls]
        base = current_url()
        self.urls = [
            urllib.parse.urljoin(
                base,
                _escape_controls(
                    u.decode(encoding or self.encoding) if isinstance(u, bytes) else u
                ),
            )
            for u in urls
        ]
        code = int(status) if status is not None else self.default_status
        if not 300 <= code <= 399:
            raise ValueError("status must be between 300 and 399.")
        super().__init__(self.urls, code)

    @property
    def default_status(self) -> int:
        """303 for HTTP/1.1 clients, 302 for HTTP/1.0 ones."""
        request = context.request_or_none()
        if request is not None and request.protocol < (1, 1):
            return 302
        return 303

    @property
    def status(self) -> int:
        """The integer status code to emit."""
        return int(self.args[1])

    @property
    def code(self) -> int:
        return self.status

    def set_response(self) -> None:
        """Set ``cherrypy.response`` status, headers and body for this redirect."""
        response = context.response_or_raise()
        status = self.status
        response.status = status
        if status in _REDIRECT_MESSAGES:
            response.headers["Content-Type"] = "text/html;charset=utf-8"
            response.headers["Location"] = self.urls[0]
            template = _REDIRECT_MESSAGES[status] + "<a href=%s>%s</a>."
            msgs = [
                template % (_quote_attribute(u), _escape_html(u, quote=False)) for u in self.urls
            ]
            response.body = "<br />\n".join(msgs).encode("utf-8")
            response.headers.pop("Content-Length", None)
        elif status == 304:
            for key in (
                "Allow",
                "Content-Encoding",
                "Content-Language",
                "Content-Length",
                "Content-Location",
                "Content-MD5",
                "Content-Range",
                "Content-Type",
                "Expires",
                "Last-Modified",
            ):
                response.headers.pop(key, None)
            response.body = None
        elif status == 305:
            response.headers["Location"] = self.urls[0]
            response.body = None
            response.headers.pop("Content-Length", None)
        else:
            raise ValueError(f"The {status} status code is unknown.")

    def __call__(self) -> None:
        """Use this exception as a request.handler (raise self)."""
        raise self


_CLEANED_ON_ERROR = (
    "Accept-Ranges",
    "Age",
    "ETag",
    "Location",
    "Retry-After",
    "Vary",
    "Content-Encoding",
    "Content-Length",
    "Expires",
    "Content-Location",
    "Content-MD5",
    "Last-Modified",
)


def clean_headers(status: int) -> None:
    """Remove the headers that do not apply to an error response."""
    headers = context.response_or_raise().headers
    for key in _CLEANED_ON_ERROR:
        headers.pop(key, None)
    if status != 416:
        headers.pop("Content-Range", None)


class HTTPError(CherryPyException):
    """Answer with an HTTP error status (400-599) and CherryPy's error page.

    ``status`` is an int or ``"403 Forbidden"``-style str (default 500); ``message``
    goes into the page (default: the status's standard description).
    """

    status: Any = None
    code: int = 500
    reason: str = ""

    def __init__(self, status: int | str = 500, message: str | None = None) -> None:
        self.status = status
        try:
            self.code, self.reason, default_message = valid_status(status)
        except ValueError as exc:
            raise self.__class__(500, exc.args[0]) from None
        if self.code < 400 or self.code > 599:
            raise ValueError("status must be between 400 and 599.")
        self._message = message or default_message
        super().__init__(status, message)

    def set_response(self) -> None:
        """Set ``cherrypy.response`` status, headers and body for this error."""
        request = context.request_or_none()
        response = context.response_or_raise()
        clean_headers(self.code)
        response.status = self.status
        tb = format_exc() if request is not None and request.show_tracebacks else None
        response.headers.pop("Content-Length", None)
        response.body = self.get_error_page(self.status, traceback=tb, message=self._message)
        _be_ie_unfriendly(self.code)

    def get_error_page(self, *args: Any, **kwargs: Any) -> bytes:
        return get_error_page(*args, **kwargs)

    def __call__(self) -> None:
        """Use this exception as a request.handler (raise self)."""
        raise self

    @classmethod
    @contextlib.contextmanager
    def handle(
        cls,
        exception: type[BaseException] | tuple[type[BaseException], ...],
        status: int = 500,
        message: str = "",
    ) -> Iterator[None]:
        """Turn ``exception`` raised in the ``with`` block into this HTTPError."""
        try:
            yield
        except exception as exc:
            raise cls(status, message or str(exc)) from exc


class NotFound(HTTPError):
    """404: no handler for ``path`` (default: the current request's path)."""

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            request = context.request_or_none()
            path = (request.script_name + request.path_info) if request is not None else ""
        self.args = (path,)
        HTTPError.__init__(self, 404, f"The path '{path}' was not found.")


_HTTP_ERROR_TEMPLATE = """<!DOCTYPE html PUBLIC
"-//W3C//DTD XHTML 1.0 Transitional//EN"
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>
    <title>%(status)s</title>
    <style type="text/css">
    #powered_by {
        margin-top: 20px;
        border-top: 2px solid black;
        font-style: italic;
    }

    #traceback {
        color: red;
    }
    </style>
</head>
    <body>
        <h2>%(status)s</h2>
        <p>%(message)s</p>
        <pre id="traceback">%(traceback)s</pre>
    <div id="powered_by">
      <span>
        Powered by <a href="http://www.cherrypy.dev">CherryPy %(version)s</a>
      </span>
    </div>
    </body>
</html>
"""


def get_error_page(status: Any, **kwargs: Any) -> bytes:
    """Return CherryPy's HTML error page for ``status`` (or the app's ``error_page``).

    Keyword arguments ``message``, ``traceback`` and ``version`` fill the template;
    each is HTML-escaped.
    """
    try:
        code, reason, message = valid_status(status)
    except ValueError as exc:
        raise HTTPError(500, exc.args[0]) from None
    if kwargs.get("status") is None:
        kwargs["status"] = f"{code} {reason}"
    if kwargs.get("message") is None:
        kwargs["message"] = message
    if kwargs.get("traceback") is None:
        kwargs["traceback"] = ""
    if kwargs.get("version") is None:
        kwargs["version"] = CHERRYPY_VERSION
    for key, value in kwargs.items():
        kwargs[key] = "" if value is None else _escape_html(str(value), quote=False)

    request = context.request_or_none()
    pages = getattr(request, "error_page", None) or {}
    error_page = pages.get(code) or pages.get("default")
    template = _HTTP_ERROR_TEMPLATE
    if error_page:
        try:
            if callable(error_page):
                result = error_page(**kwargs)
                if isinstance(result, str):
                    return result.encode("utf-8")
                if isinstance(result, bytes):
                    return result
                if isinstance(result, StaticFile):
                    # serve_file()/serve_fileobj() from the error page function.
                    return result.read(sys.maxsize) or b""
                if isinstance(result, Iterator):
                    return b"".join(
                        c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in result
                    )
                raise ValueError(
                    "error page function did not return a bytestring, str or an iterator - "
                    f"returned object of type {type(result).__name__}."
                )
            with open(error_page, newline="") as f:
                template = f.read()
        except Exception:
            why = _traceback.format_exception_only(*sys.exc_info()[:2])[-1]
            note = kwargs["message"]
            if note:
                note += "<br />"
            kwargs["message"] = note + f"In addition, the custom error page failed:\n<br />{why}"
    response = context.response_or_none()
    if response is not None:
        response.headers["Content-Type"] = "text/html;charset=utf-8"
    return (template % kwargs).encode("utf-8")


_IE_FRIENDLY_ERROR_SIZES = {
    400: 512,
    403: 256,
    404: 512,
    405: 256,
    406: 512,
    408: 512,
    409: 512,
    410: 256,
    500: 512,
    501: 512,
    505: 512,
}


def _be_ie_unfriendly(status: int) -> None:
    """Pad short error bodies, as CherryPy does, so old browsers show them."""
    size = _IE_FRIENDLY_ERROR_SIZES.get(status, 0)
    if not size:
        return
    response = context.response_or_raise()
    size += 1
    content = response.collapse_body()
    if content and len(content) < size:
        content = content + b" " * (size - len(content))
    response.body = content
    response.headers["Content-Length"] = str(len(content))


def format_exc(exc: Any = None) -> str:
    """Return ``exc`` (or the exception being handled) formatted as a traceback."""
    if exc is None:
        exc = sys.exc_info()
    if exc == (None, None, None):
        return ""
    return "".join(_traceback.format_exception(*exc))


def bare_error(
    extrabody: str | bytes | None = None,
) -> tuple[bytes, list[tuple[bytes, bytes]], list[bytes]]:
    """Status, headers and body for a critical error, built without calling anything
    that could fail."""
    body = b"Unrecoverable error in the server."
    if extrabody is not None:
        if not isinstance(extrabody, bytes):
            extrabody = extrabody.encode("utf-8")
        body += b"\n" + extrabody
    return (
        b"500 Internal Server Error",
        [(b"Content-Type", b"text/plain"), (b"Content-Length", str(len(body)).encode())],
        [body],
    )
