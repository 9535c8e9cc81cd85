"""The client side of CherryPy's test helper (``cherrypy.test.webtest``, which CherryPy
re-exports from ``cheroot.test.webtest``): ``WebCase``, a ``unittest.TestCase`` that
requests pages from a live server and makes assertions on the last response.

    class MyTest(WebCase):
        def test_index(self):
            self.getPage("/")
            self.assertStatus(200)
            self.assertHeader("Content-Type", "text/html;charset=utf-8")
            self.assertBody("Hello")

After ``getPage`` the response is in ``self.status`` (``"200 OK"``), ``self.headers``
(a list of ``(name, value)`` pairs in the order received), ``self.body`` (bytes) and
``self.cookies`` (``("Cookie", value)`` pairs made from the ``Set-Cookie`` headers, to
send back with the next request).

Connections: by default each ``getPage`` opens and closes its own connection;
``set_persistent(True)`` keeps one connection in ``self.HTTP_CONN`` for the following
requests, as CherryPy's keep-alive tests do.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import sys
import time
import traceback
import unittest
import urllib.parse
from collections.abc import Iterable
from typing import Any

#: Methods that get a default Content-Type and Content-Length (tests may replace it).
methods_with_bodies: tuple[str, ...] = ("POST", "PUT", "PATCH")

#: Exceptions ``server_error`` lets through (framework-handled errors).
ignored_exceptions: list[type[BaseException]] = []

#: True when responses may not follow requests one to one (``server_error`` then
#: never marks the test as failed).
ignore_all = False

#: How many times ``openURL`` tries when the connection fails, and the pause between.
OPEN_ATTEMPTS = 10
RETRY_PAUSE = 0.2


def interface(host: str) -> str:
    """The address a client connects to for a server listening on ``host``: the
    loopback address for the wildcard addresses, ``host`` itself otherwise."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host in ("::", "::0", "::0.0.0.0"):
        return "::1"
    return host


class ServerError(Exception):
    """Raised by ``getPage`` when ``server_error`` recorded a server-side error."""

    on = False


def server_error(exc: Any = None) -> bool:
    """Record a server-side error (call it from the framework's error handler, in the
    same process as the tests): the next ``getPage`` raises ``ServerError``.

    Returns True when the error was recorded, False when it is ignored.
    """
    if exc is None:
        exc = sys.exc_info()
    if ignore_all or exc[0] in ignored_exceptions:
        return False
    ServerError.on = True
    print()
    print("".join(traceback.format_exception(*exc)))
    return True


def cleanHeaders(
    headers: list[tuple[str, str]] | None, method: str, body: Any, host: str, port: int
) -> list[tuple[str, str]]:
    """The request headers with those a request needs added when absent: ``Host``
    (``host:port``, or ``host`` on port 80) and, for methods with bodies, a form
    ``Content-Type`` with the body's ``Content-Length``."""
    result = list(headers or [])
    names = {name.lower() for name, _value in result}
    if "host" not in names:
        result.append(("Host", host if port == 80 else f"{host}:{port}"))
    if method in methods_with_bodies and "content-type" not in names:
        result.append(("Content-Type", "application/x-www-form-urlencoded"))
        result.append(("Content-Length", str(len(body or b""))))
    return result


def shb(response: http.client.HTTPResponse) -> tuple[str, list[tuple[str, str]], bytes]:
    """``(status line, header pairs, body)`` of a response, reading the body."""
    status = f"{response.status} {response.reason}"
    return status, response.getheaders(), response.read()


def strip_netloc(url: str) -> str:
    """The server-absolute part of ``url`` (path, params and query; no scheme, host
    or fragment): ``'http://h/p?q#f'`` gives ``'/p?q'``."""
    parts = urllib.parse.urlparse(url)
    return urllib.parse.urlunparse(("", "", parts.path, parts.params, parts.query, ""))


def _request_once(
    url: str | bytes,
    headers: list[tuple[str, str]] | None = None,
    method: str = "GET",
    body: bytes | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    http_conn: Any = http.client.HTTPConnection,
    protocol: str = "HTTP/1.1",
    ssl_context: Any = None,
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Send one request and read the response. ``http_conn`` is a connection class
    (a connection is opened and closed here) or an open connection (kept open)."""
    all_headers = cleanHeaders(headers, method, body, host, port)
    own = not hasattr(http_conn, "host")
    if own:
        kwargs = {"context": ssl_context} if ssl_context is not None else {}
        conn = http_conn(interface(host), port, **kwargs)
    else:
        conn = http_conn
    # http.client speaks HTTP/1.1; the tests also send HTTP/1.0 request lines.
    conn._http_vsn_str = protocol
    conn._http_vsn = int("".join(c for c in protocol if c.isdigit()))
    try:
        if isinstance(url, bytes):
            url = url.decode()
        conn.putrequest(method.upper(), url, skip_host=True, skip_accept_encoding=True)
        for name, value in all_headers:
            conn.putheader(name, value.encode("latin-1") if isinstance(value, str) else value)
        conn.endheaders()
        if body is not None:
            conn.send(body)
        return shb(conn.getresponse())
    finally:
        if own:
            conn.close()


def openURL(
    *args: Any,
    raise_subcls: type[BaseException] | tuple[type[BaseException], ...] = (),
    **kwargs: Any,
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Request a URL (the arguments of ``_request_once``), trying again when the
    connection fails at the socket level (``OSError``), up to ``OPEN_ATTEMPTS`` times.
    Exceptions of the classes in ``raise_subcls`` are raised at once."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return _request_once(*args, **kwargs)
        except OSError as exc:
            if isinstance(exc, raise_subcls) or attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(RETRY_PAUSE)
    raise AssertionError("unreachable")  # pragma: no cover


class WebCase(unittest.TestCase):
    """A test case that requests pages from ``HOST:PORT`` and checks the responses."""

    HOST = "127.0.0.1"
    PORT = 8000
    #: A connection class (one connection per request) or, after
    #: ``set_persistent(True)``, an open connection.
    HTTP_CONN: Any = http.client.HTTPConnection
    PROTOCOL = "HTTP/1.1"

    scheme = "http"
    url: Any = None
    ssl_context: Any = None

    status: Any = None
    headers: Any = None
    body: Any = None
    cookies: Any = None

    encoding = "utf-8"
    time: float | None = None

    #: CherryPy's interactive failure prompt is not offered: failures always raise.
    interactive = False
    console_height = 30

    # -- connections -------------------------------------------------------------
    @property
    def _Conn(self) -> type[http.client.HTTPConnection]:
        """The connection class for ``self.scheme``."""
        if self.scheme == "https":
            return http.client.HTTPSConnection
        return http.client.HTTPConnection

    def get_conn(self, auto_open: bool = False) -> http.client.HTTPConnection:
        """A new connection to the server, already connected."""
        conn = self._Conn(self.interface(), self.PORT)
        conn.auto_open = auto_open  # type: ignore[attr-defined]
        conn.connect()
        return conn

    def set_persistent(self, on: bool = True, auto_open: bool = False) -> None:
        """Use one connection for the following requests (``on``), or a new connection
        per request again. An open persistent connection is closed either way."""
        with contextlib.suppress(TypeError, AttributeError):
            self.HTTP_CONN.close()
        self.HTTP_CONN = self.get_conn(auto_open=auto_open) if on else self._Conn

    @property
    def persistent(self) -> bool:
        """Whether ``HTTP_CONN`` is an open connection rather than a class."""
        return not isinstance(self.HTTP_CONN, type)

    @persistent.setter
    def persistent(self, on: bool) -> None:
        self.set_persistent(on)

    def interface(self) -> str:
        """The address to connect to for ``self.HOST`` (see ``interface``)."""
        return interface(self.HOST)

    # -- requests ----------------------------------------------------------------
    def getPage(
        self,
        url: str | bytes,
        headers: list[tuple[str, str]] | None = None,
        method: str = "GET",
        body: str | bytes | None = None,
        protocol: str | None = None,
        raise_subcls: Any = (),
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Request ``url`` (a server-absolute path with its query string); return and
        keep ``(status, headers, body)``."""
        ServerError.on = False
        if isinstance(url, str):
            url = url.encode("utf-8")
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.url = url
        self.time = None
        started = time.time()
        result = openURL(
            url,
            headers,
            method,
            body,
            self.HOST,
            self.PORT,
            self.HTTP_CONN,
            protocol or self.PROTOCOL,
            raise_subcls=raise_subcls or (),
            ssl_context=self.ssl_context,
        )
        self.time = time.time() - started
        self.status, self.headers, self.body = result
        self.cookies = [("Cookie", v) for k, v in self.headers if k.lower() == "set-cookie"]
        if ServerError.on:
            raise ServerError
        return result

    # -- assertions --------------------------------------------------------------
    def _handlewebError(self, msg: str) -> None:
        """Fail the test with ``msg``."""
        raise self.failureException(msg)

    @property
    def status_code(self) -> int:
        """The status code of the last response as an int."""
        return int(self.status[:3])

    def status_matches(self, expected: int | str) -> bool:
        """Whether the last status is ``expected`` (a code, or a full status line)."""
        if isinstance(expected, int):
            return self.status_code == expected
        return self.status == expected

    def assertStatus(self, status: Any, msg: str | None = None) -> None:
        """Fail unless the status is ``status``: a code, a status line, or an
        iterable of either (any of them matches)."""
        options: Iterable[Any] = (
            [status] if isinstance(status, (int, str, bytes)) else status  # type: ignore[assignment]
        )
        if any(self.status_matches(s) for s in options):
            return
        self._handlewebError(msg or f"Status {self.status} does not match {status}")

    def assertHeader(self, key: str, value: Any = None, msg: str | None = None) -> str | None:
        """Fail unless header ``key`` is present (with ``value``, when given); return
        the value found."""
        wanted = key.lower()
        for name, actual in self.headers:
            if name.lower() == wanted and (value is None or str(value) == actual):
                return actual
        if msg is None:
            msg = (
                f"{key!r} not in headers" if value is None else f"{key!r}:{value!r} not in headers"
            )
        self._handlewebError(msg)
        return None

    def assertHeaderIn(
        self, key: str, values: Iterable[Any], msg: str | None = None
    ) -> list[Any] | None:
        """Fail unless header ``key`` has one of ``values``; return the matches."""
        wanted = key.lower()
        options = list(values)
        for name, actual in self.headers:
            if name.lower() == wanted:
                matches = [v for v in options if str(v) == actual]
                if matches:
                    return matches
        self._handlewebError(msg or f"{key!r} not in {options!r}")
        return None

    def assertHeaderItemValue(self, key: str, value: str, msg: str | None = None) -> str | None:
        """Fail unless ``value`` is one of the comma-separated items of header ``key``."""
        actual = self.assertHeader(key, msg=msg)
        items = [item.strip() for item in (actual or "").split(",")]
        if value in items:
            return value
        self._handlewebError(msg or f"{value!r} not in {items!r}")
        return None

    def assertNoHeader(self, key: str, msg: str | None = None) -> None:
        """Fail if header ``key`` is present."""
        wanted = key.lower()
        if any(name.lower() == wanted for name, _v in self.headers):
            self._handlewebError(msg or f"{key!r} in headers")

    def assertNoHeaderItemValue(self, key: str, value: str, msg: str | None = None) -> None:
        """Fail if header ``key`` is present with exactly ``value``."""
        wanted = key.lower()
        if any(name.lower() == wanted and v == value for name, v in self.headers):
            self._handlewebError(msg or f"{key!r}:{value!r} in {self.headers!r}")

    def _as_bytes(self, value: str | bytes) -> bytes:
        return value.encode(self.encoding) if isinstance(value, str) else value

    def assertBody(self, value: str | bytes, msg: str | None = None) -> None:
        """Fail unless the body is exactly ``value`` (str is encoded with ``encoding``)."""
        expected = self._as_bytes(value)
        if expected != self.body:
            self._handlewebError(
                msg or f"expected body:\n{expected!r}\n\nactual body:\n{self.body!r}"
            )

    def assertInBody(self, value: str | bytes, msg: str | None = None) -> None:
        """Fail unless ``value`` occurs in the body."""
        expected = self._as_bytes(value)
        if expected not in self.body:
            self._handlewebError(msg or f"{expected!r} not in body: {self.body!r}")

    def assertNotInBody(self, value: str | bytes, msg: str | None = None) -> None:
        """Fail if ``value`` occurs in the body."""
        expected = self._as_bytes(value)
        if expected in self.body:
            self._handlewebError(msg or f"{expected!r} found in body")

    def assertMatchesBody(
        self, pattern: str | bytes, msg: str | None = None, flags: int = 0
    ) -> None:
        """Fail unless the regular expression ``pattern`` matches somewhere in the body."""
        if re.search(self._as_bytes(pattern), self.body, flags) is None:
            self._handlewebError(msg or f"No match for {pattern!r} in body")
