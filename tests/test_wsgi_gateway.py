"""PEP 3333 conformance of the WSGI gateway.

The environ is checked by ``environ_app`` wrapped in ``wsgiref.validate.validator``
(mounted at ``/prefix``), so a violation by the gateway raises inside the application
and the request fails; the same app unwrapped at ``/raw`` checks the input stream's own
iteration (the validator reimplements it with readline()). ``counting_app`` (at
``/count``, and under the validator at ``/lint``) counts ``close()`` on every result it
returns: the gateway must call it exactly once per response, whatever happened.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
from collections.abc import Iterator, Sequence
from typing import Any
from wsgiref.validate import validator

import pytest
import requests
from rawhttp import Client, Response, Truncated, get, poll

from cherrypy_rs.testing import LiveServer, serve
from tests.apps import wsgi_apps
from tests.apps.wsgi_apps import (
    CL_LARGER,
    CL_SMALLER,
    CLOSES,
    EVENTS,
    FILE_DATA,
    FILE_OFFSET,
    GATE,
    RETURNED,
    counting_app,
    environ_app,
)

TIMEOUT = 10
BODY = b"first line\nsecond \xff\x00 line\r\n\nlast line\n"
LINES = [b"first line\n", b"second \xff\x00 line\r\n", b"\n", b"last line\n"]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class Logs:
    """The server's error log and everything written to stderr during a test."""

    def __init__(self, handler: Collect, capfd: pytest.CaptureFixture[str]) -> None:
        self.handler = handler
        self.capfd = capfd
        self.stderr = ""

    def text(self) -> str:
        self.stderr += self.capfd.readouterr().err
        return "\n".join([*self.handler.lines, self.stderr])


@pytest.fixture
def logs(capfd: pytest.CaptureFixture[str]) -> Iterator[Logs]:
    handler = Collect()
    logger = logging.getLogger("cherrypy.error")
    logger.addHandler(handler)
    try:
        yield Logs(handler, capfd)
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def live(logs: Logs) -> Iterator[LiveServer]:
    wsgi_apps.reset_counters()
    apps = {
        "/prefix": validator(environ_app()),
        "/raw": environ_app(),
        "/count": counting_app(),
        "/lint": validator(counting_app()),
    }
    try:
        with serve(apps=apps) as server:
            yield server
    finally:
        GATE.set()  # never leave /gated waiting


def assert_valid(logs: Logs) -> None:
    """No violation found by the validator (which the server may have turned into a
    500 and a log line)."""
    assert "AssertionError" not in logs.text()


Headers = Sequence[tuple[str, str]]


def request_bytes(
    method: str, target: str, port: int, headers: Headers = (), body: bytes = b""
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def fetch_environ(
    live: LiveServer,
    target: str,
    method: str = "GET",
    headers: Headers = (),
    body: bytes = b"",
) -> tuple[dict[str, Any], list[bytes], int]:
    """(environ, wsgi.input pieces, the client's port) for one request on a new
    connection."""
    with Client(live.port, timeout=TIMEOUT) as client:
        client.send(request_bytes(method, target, live.port, headers, body))
        resp = client.response(method)
        client_port = client.sock.getsockname()[1]
    assert resp.status == 200, resp.body
    data = json.loads(resp.body)
    return data["environ"], [p.encode("latin-1") for p in data["pieces"]], client_port


def settled(path: str, timeout: float = 5.0) -> tuple[int, int]:
    """(close() calls, results returned) for ``path``, once every returned result has
    been closed or ``timeout`` passed: the server may close after the client has the
    whole response."""
    poll(lambda: CLOSES[path] >= RETURNED[path], timeout)
    return CLOSES[path], RETURNED[path]


# -- environ -------------------------------------------------------------------------


def test_environ_request_keys(live: LiveServer, logs: Logs) -> None:
    env, _, _ = fetch_environ(
        live,
        "/prefix/some/path?a=1&b=%20x&c",
        headers=[("X-Custom", "Yes"), ("X-Multi", "a"), ("X-Multi", "b")],
    )
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/prefix"
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "a=1&b=%20x&c"  # as sent, not decoded
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["HTTP_HOST"] == f"127.0.0.1:{live.port}"
    assert env["HTTP_X_CUSTOM"] == "Yes"
    # Repeated fields are joined with "," (RFC 9110 §5.3: optional whitespace after).
    assert [v.strip() for v in env["HTTP_X_MULTI"].split(",")] == ["a", "b"]
    assert env.get("CONTENT_LENGTH", "") in ("", "0")  # no body: empty or absent
    assert "HTTP_CONTENT_LENGTH" not in env and "HTTP_CONTENT_TYPE" not in env
    assert "HTTPS" not in env
    assert_valid(logs)


def test_environ_connection_keys(live: LiveServer, logs: Logs) -> None:
    env, _, client_port = fetch_environ(live, "/prefix/")
    assert env["PATH_INFO"] == "/"
    assert env["SERVER_PORT"] == str(live.port)
    assert isinstance(env["SERVER_NAME"], str) and env["SERVER_NAME"]
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(client_port)
    assert isinstance(env["SERVER_SOFTWARE"], str) and env["SERVER_SOFTWARE"]
    assert_valid(logs)


def test_environ_wsgi_keys(live: LiveServer, logs: Logs) -> None:
    env, _, _ = fetch_environ(live, "/prefix/x")
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    # environ_app wrote to wsgi.errors (write, writelines, flush) through the
    # validator, which checks that they exist and take str.
    assert env["wsgi.input"].startswith("<") and env["wsgi.errors"].startswith("<")
    assert_valid(logs)


@pytest.mark.parametrize(
    ("target", "script_name", "path_info"),
    [
        # PEP 3333: the path is decoded bytes, as latin-1 text (UTF-8 "é" is 2 chars).
        ("/prefix/caf%C3%A9", "/prefix", "/caf\xc3\xa9"),
        ("/prefix/a%20b/%7Euser", "/prefix", "/a b/~user"),
        # An encoded slash is not a path separator: it stays encoded.
        ("/prefix/a%2Fb", "/prefix", "/a%2Fb"),
        ("/prefix", "/prefix", ""),
        ("/prefix/", "/prefix", "/"),
        ("/prefix/x?y=/z", "/prefix", "/x"),
    ],
)
def test_path_info_decoding(
    live: LiveServer, logs: Logs, target: str, script_name: str, path_info: str
) -> None:
    env, _, _ = fetch_environ(live, target)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == (script_name, path_info)
    assert_valid(logs)


@pytest.mark.parametrize("mount", ["/prefix", "/raw"])
@pytest.mark.parametrize("how", ["read", "readline", "readlines", "iter"])
def test_input_with_content_length(live: LiveServer, logs: Logs, mount: str, how: str) -> None:
    r = requests.post(
        live.url(f"{mount}/upload?read={how}"),
        data=BODY,
        headers={"Content-Type": "application/x-test; charset=latin-1"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    env = r.json()["environ"]
    pieces = [p.encode("latin-1") for p in r.json()["pieces"]]
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_TYPE"] == "application/x-test; charset=latin-1"
    assert env["CONTENT_LENGTH"] == str(len(BODY))
    if how == "read":
        assert b"".join(pieces) == BODY
        assert {len(p) for p in pieces[:-1]} == {7}
    else:
        assert pieces == LINES
    assert_valid(logs)


@pytest.mark.parametrize("mount", ["/prefix", "/raw"])
@pytest.mark.parametrize("how", ["read", "readline", "iter"])
def test_input_chunked_request(live: LiveServer, logs: Logs, mount: str, how: str) -> None:
    chunks = [BODY[:5], BODY[5:20], BODY[20:]]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    env, pieces, _ = fetch_environ(
        live,
        f"{mount}/?read={how}",
        method="POST",
        headers=[("Transfer-Encoding", "chunked"), ("Content-Type", "application/x-test")],
        body=framed,
    )
    # The body's end is known to the application only through input_terminated.
    assert env["wsgi.input_terminated"] is True
    assert env.get("CONTENT_LENGTH") in (None, "", str(len(BODY)))
    assert "HTTP_TRANSFER_ENCODING" not in env or env["HTTP_TRANSFER_ENCODING"] == "chunked"
    if how == "read":
        assert b"".join(pieces) == BODY
    else:
        assert pieces == LINES
    assert_valid(logs)


# -- close() exactly once ------------------------------------------------------------


@pytest.mark.parametrize("mount", ["/count", "/lint"])
@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/normal", 200, b"hello, world"),
        ("/write", 200, b"written; returned"),
        ("/late-start", 200, b"late body"),
        ("/exc-info-before", 500, b"replaced"),
        ("/file-wrapper", 200, FILE_DATA[FILE_OFFSET:]),
        ("/file-wrapper-bytesio", 200, FILE_DATA),
    ],
)
def test_close_once(
    live: LiveServer, logs: Logs, mount: str, path: str, status: int, body: bytes
) -> None:
    r = requests.get(live.url(mount + path), timeout=TIMEOUT)
    assert (r.status_code, r.content) == (status, body)
    if path == "/late-start":
        assert r.headers["X-Late"] == "yes"
    assert settled(path) == (1, 1)
    assert_valid(logs)


def test_close_once_for_head(live: LiveServer) -> None:
    r = requests.head(live.url("/count/normal"), timeout=TIMEOUT)
    assert (r.status_code, r.content) == (200, b"")
    assert settled("/normal") == (1, 1)


def test_body_is_not_buffered(live: LiveServer) -> None:
    # The first chunk reaches the client while the application waits for it to.
    with Client(live.port, timeout=5) as client:
        client.send(get("/count/gated"))
        received = b""
        while b"before the gate;" not in received:
            data = client.sock.recv(65536)
            assert data, received
            received += data
        GATE.set()
        while b"after the gate" not in received:
            data = client.sock.recv(65536)
            assert data, received
            received += data
    assert EVENTS["gate"] is True
    assert settled("/gated") == (1, 1)


def aborted(client: Client) -> tuple[Response | None, bytes]:
    """Reads a response that the server must abort: (the head or None, body bytes).
    A framed body (Content-Length or chunked) must end short of its framing; a body
    delimited by the connection's end (HTTP/1.0 servers) cannot show it."""
    try:
        resp = client.response()
    except Truncated as exc:
        body = exc.response.body if exc.response is not None else b""
        return exc.response, body + exc.partial
    framed = resp.header("Content-Length") is not None or resp.chunks is not None
    assert not framed, f"a complete response: {resp}"
    return resp, resp.body


def test_close_once_after_exception_mid_iteration(live: LiveServer, logs: Logs) -> None:
    with Client(live.port, timeout=TIMEOUT) as client:
        client.send(get("/count/raise-mid"))
        resp, body = aborted(client)
        assert client.closed()
    assert resp is not None and resp.status == 200
    assert b"partial" in body
    assert settled("/raise-mid") == (1, 1)
    assert "boom mid-iteration" in logs.text()


def test_exc_info_after_headers_sent_is_reraised(live: LiveServer) -> None:
    with Client(live.port, timeout=TIMEOUT) as client:
        client.send(get("/count/exc-info-after"))
        resp, body = aborted(client)
        assert client.closed()
    assert resp is not None and resp.status == 200
    assert b"first" in body and b"not reached" not in body
    assert EVENTS["reraised"] == "too late"
    assert settled("/exc-info-after") == (1, 1)


def test_close_once_when_the_client_disconnects(live: LiveServer) -> None:
    client = Client(live.port, timeout=TIMEOUT)
    try:
        client.send(get("/count/slow"))
        assert client.head().status == 200
        assert client.sock.recv(4096)  # the body is flowing
    finally:
        # Close with a reset: no lingering, the server's next write fails.
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
    assert poll(lambda: CLOSES["/slow"] >= 1, timeout=10.0)
    assert settled("/slow") == (1, 1)


# -- declared Content-Length ---------------------------------------------------------


def test_content_length_larger_than_body(live: LiveServer) -> None:
    declared, body = CL_LARGER
    with Client(live.port, timeout=TIMEOUT) as client:
        client.send(get("/count/cl-larger"))
        with pytest.raises(Truncated) as info:
            client.response()
    assert info.value.response is not None
    assert info.value.response.status == 200
    assert info.value.response.header("Content-Length") == str(declared)
    assert info.value.partial == body  # all the application gave, then the close
    assert settled("/cl-larger") == (1, 1)


def test_content_length_smaller_than_body(live: LiveServer) -> None:
    declared, chunks = CL_SMALLER
    with Client(live.port, timeout=TIMEOUT) as client:
        client.send(get("/count/cl-smaller"))
        resp = client.response()
        assert (resp.status, resp.body) == (200, b"".join(chunks)[:declared])
        # Not one byte more: the connection either serves the next request cleanly or
        # is closed.
        try:
            client.send(get("/count/normal"))
            after = client.response()
        except Truncated as exc:
            assert exc.partial == b""
        except (BrokenPipeError, ConnectionResetError):
            pass
        else:
            assert (after.status, after.body) == (200, b"hello, world")
    assert settled("/cl-smaller") == (1, 1)


# -- applications that break PEP 3333 ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/str-body", None),
        ("/no-start", None),
        ("/raise-before", "boom before start_response"),
        ("/hop-connection", None),
        ("/hop-transfer-encoding", None),
    ],
)
def test_broken_application_is_a_500(
    live: LiveServer, logs: Logs, path: str, message: str | None
) -> None:
    r = requests.get(live.url("/count" + path), timeout=TIMEOUT)
    assert r.status_code == 500
    assert b"never started" not in r.content and b"hop-by-hop" not in r.content
    assert logs.text().strip(), "the error is logged"
    if message:
        assert message in logs.text()
    # A result the application returned is closed once; a start_response that raises
    # (as wsgiref's does for a hop-by-hop header) leaves none to close.
    closes, returned = settled(path)
    assert closes == returned <= 1
    # The server is still fine.
    assert requests.get(live.url("/count/normal"), timeout=TIMEOUT).status_code == 200
