"""TLS (rustls) and HTTP/2, through real sockets on 127.0.0.1.

Certificates are made in the test run by ``trustme`` (the ``tls_files`` fixture in
conftest). HTTP/2 is spoken by real clients: ``httpx`` (with ``h2``) and, for frame-level
checks, the ``h2`` state machine over a raw socket. Waits are bounded: socket timeouts
and ``rawhttp.poll``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http.client
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import httpx
import pytest
import trustme
from conftest import TLSFiles
from rawhttp import Client, poll

import cherrypy_rs as cherrypy
from cherrypy_rs._engine import Bus
from cherrypy_rs._server import ConfigError
from cherrypy_rs.cli import build_parser
from cherrypy_rs.options import apply_server_args
from cherrypy_rs.testing import LiveServer, serve

ROOT = Path(__file__).resolve().parent.parent

# -- the applications ----------------------------------------------------------------------


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "hello"

    @cherrypy.expose
    def info(self) -> str:
        r = cherrypy.request
        return repr(
            {
                "scheme": r.scheme,
                "base": r.base,
                "line": r.request_line,
                "ssl": r.ssl,
                "https": r.wsgi_environ.get("HTTPS"),
            }
        )

    @cherrypy.expose
    def go(self) -> None:
        raise cherrypy.HTTPRedirect("/info")

    @cherrypy.expose
    def echo(self) -> bytes:
        return cherrypy.request.body.read()

    @cherrypy.expose
    def stream(self, n: str = "3") -> Iterator[bytes]:
        for i in range(int(n)):
            yield b"chunk %d\n" % i

    stream._cp_config = {"response.stream": True}

    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("handler failure")

    @cherrypy.expose
    def hop(self) -> str:
        h = cherrypy.response.headers
        h["Connection"] = "keep-alive"
        h["Keep-Alive"] = "timeout=5"
        h["Transfer-Encoding"] = "chunked"
        h["X-Kept"] = "yes"
        return "hop"


def info_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    keys = ("wsgi.url_scheme", "HTTPS", "SERVER_PROTOCOL", "HTTP_HOST", "SSL_PROTOCOL")
    body = repr({k: environ.get(k) for k in keys}).encode()
    body += b"\n" + repr({k: v for k, v in environ.items() if k.startswith("SSL_")}).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def info_of(live: LiveServer, client: httpx.Client, path: str = "/info") -> dict[str, Any]:
    import ast

    resp = client.get(live.url(path))
    assert resp.status_code == 200, resp.text
    return ast.literal_eval(resp.text.splitlines()[0])


@pytest.fixture
def https(tls_files: TLSFiles) -> Iterator[LiveServer]:
    """Root on "/" and the WSGI info app on "/wsgi", over HTTPS."""
    ctx = tls_files.client_context()
    with serve(
        Root(), apps={"/wsgi": info_app}, client_context=ctx, **tls_files.settings()
    ) as live:
        yield live


def stats(live: LiveServer) -> dict[str, int]:
    return dict(live.server.core.tls_stats)


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_get(port: int, ctx: ssl.SSLContext, path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# -- HTTPS for CherryPy apps and WSGI grafts -----------------------------------------------


def test_cherrypy_app_over_https(https: LiveServer) -> None:
    with httpx.Client(verify=https.client_context, http2=False) as client:
        info = info_of(https, client)
        assert info["scheme"] == "https"
        assert info["base"] == f"https://127.0.0.1:{https.port}"
        assert info["https"] == "on"
        assert info["line"] == "GET /info HTTP/1.1"
        assert info["ssl"]["SSL_PROTOCOL"] == "TLSv1.3"
        assert info["ssl"]["SSL_CLIENT_VERIFY"] == "NONE"
        redirect = client.get(https.url("/go"))
        assert redirect.status_code == 303
        assert redirect.headers["location"] == f"https://127.0.0.1:{https.port}/info"
    status, _headers, body = https.get("/")
    assert (status, body) == (200, b"hello")


def test_wsgi_graft_over_https(https: LiveServer) -> None:
    with httpx.Client(verify=https.client_context, http2=False) as client:
        info = info_of(https, client, "/wsgi/")
    assert info["wsgi.url_scheme"] == "https"
    assert info["HTTPS"] == "on"
    assert info["SSL_PROTOCOL"] == "TLSv1.3"
    assert info["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_static_files_over_https_and_http2(tls_files: TLSFiles, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    (tmp_path / "big.bin").write_bytes(data)
    config = {"/static": {"tools.staticdir.on": True, "tools.staticdir.dir": str(tmp_path)}}
    with serve(Root(), "", config, **tls_files.settings()) as live:
        for http2 in (False, True):
            with httpx.Client(verify=tls_files.client_context(), http2=http2) as client:
                resp = client.get(live.url("/static/big.bin"))
                assert resp.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
                assert (resp.status_code, resp.content) == (200, data)
                part = client.get(live.url("/static/big.bin"), headers={"Range": "bytes=10-19"})
                assert (part.status_code, part.content) == (206, data[10:20])
                head = client.head(live.url("/static/big.bin"))
                assert (head.status_code, head.content) == (200, b"")
                assert head.headers["content-length"] == str(len(data))
                etag = resp.headers["etag"]
                again = client.get(live.url("/static/big.bin"), headers={"If-None-Match": etag})
                assert again.status_code == 304


def test_http1_over_tls_keeps_the_http1_behaviour(https: LiveServer) -> None:
    """Title-case header names, keep-alive: the same HTTP/1 as on plain TCP."""
    ctx = https.client_context
    assert ctx is not None
    with socket.create_connection(("127.0.0.1", https.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            assert sock.selected_alpn_protocol() is None
            for _ in range(2):
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                data = b""
                while not data.endswith(b"hello"):
                    chunk = sock.recv(4096)
                    assert chunk, data
                    data += chunk
                assert data.startswith(b"HTTP/1.1 200 OK\r\n")
                assert b"\r\nContent-Length: 5\r\n" in data


def test_a_malformed_head_over_tls_gets_cheroots_answer(https: LiveServer) -> None:
    ctx = https.client_context
    assert ctx is not None
    with socket.create_connection(("127.0.0.1", https.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"GARBAGE\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    assert data == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 22\r\nContent-Type: text/plain\r\n"
        b"\r\nMalformed Request-Line"
    )


@pytest.mark.parametrize("key_type", ["ecdsa-sec1", "rsa-pkcs1", "rsa-pkcs8"])
def test_key_formats(tmp_path: Path, key_type: str) -> None:
    from cryptography.hazmat.primitives import serialization

    kind = trustme.KeyType.ECDSA if key_type.startswith("ecdsa") else trustme.KeyType.RSA
    ca = trustme.CA(key_type=kind)
    leaf = ca.issue_cert("127.0.0.1", key_type=kind)
    key_pem = leaf.private_key_pem.bytes()
    marker = {
        "ecdsa-sec1": b"BEGIN EC PRIVATE KEY",
        "rsa-pkcs1": b"BEGIN RSA PRIVATE KEY",
        "rsa-pkcs8": b"BEGIN PRIVATE KEY",
    }[key_type]
    if key_type == "rsa-pkcs8":
        key = serialization.load_pem_private_key(key_pem, password=None)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    assert marker in key_pem
    (tmp_path / "c.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    (tmp_path / "k.pem").write_bytes(key_pem)
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    with serve(
        Root(), ssl_certificate=str(tmp_path / "c.pem"), ssl_private_key=str(tmp_path / "k.pem")
    ) as live:
        assert tls_get(live.port, ctx) == (200, b"hello")


def test_certificate_chain_file_is_sent(tmp_path: Path) -> None:
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("127.0.0.1")
    pems = leaf.cert_chain_pems
    (tmp_path / "leaf.pem").write_bytes(pems[0].bytes())
    (tmp_path / "chain.pem").write_bytes(b"".join(p.bytes() for p in pems[1:]))
    (tmp_path / "leaf.key").write_bytes(leaf.private_key_pem.bytes())
    ctx = ssl.create_default_context()
    root.configure_trust(ctx)
    files = {
        "ssl_certificate": str(tmp_path / "leaf.pem"),
        "ssl_private_key": str(tmp_path / "leaf.key"),
    }
    with serve(Root(), **files) as live:
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_get(live.port, ctx)
    with serve(Root(), ssl_certificate_chain=str(tmp_path / "chain.pem"), **files) as live:
        assert tls_get(live.port, ctx) == (200, b"hello")


# -- protocol versions ------------------------------------------------------------------------


def test_tls_1_1_is_refused_1_2_and_1_3_are_served(https: LiveServer) -> None:
    old = insecure_context()
    with warnings.catch_warnings():
        # Python deprecates these versions; the point is to offer them anyway.
        warnings.simplefilter("ignore", DeprecationWarning)
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        tls_get(https.port, old)
    # The server saw the ClientHello and refused it (the client did send one).
    assert poll(lambda: stats(https)["handshake_failures"] == 1)
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = insecure_context()
        ctx.minimum_version = ctx.maximum_version = version
        with socket.create_connection(("127.0.0.1", https.port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as sock:
                assert sock.version() == version.name.replace("_", ".").replace("v1.", "v1.")
                cipher = sock.cipher()
                assert cipher is not None and ("GCM" in cipher[0] or "CHACHA20" in cipher[0])
        assert tls_get(https.port, ctx) == (200, b"hello")


# -- HTTP/2 --------------------------------------------------------------------------------------


def test_http2_over_tls_through_alpn(https: LiveServer) -> None:
    with httpx.Client(verify=https.client_context, http2=True) as client:
        resp = client.get(https.url("/"))
        assert (resp.http_version, resp.status_code, resp.text) == ("HTTP/2", 200, "hello")
        info = info_of(https, client)
        assert info["line"] == "GET /info HTTP/2.0"
        assert info["base"] == f"https://127.0.0.1:{https.port}"
        wsgi = info_of(https, client, "/wsgi/x")
        assert wsgi["SERVER_PROTOCOL"] == "HTTP/2.0"
        assert wsgi["HTTP_HOST"] == f"127.0.0.1:{https.port}"
        assert wsgi["wsgi.url_scheme"] == "https"
        body = b"x" * 300_000
        echoed = client.post(https.url("/echo"), content=body)
        assert (echoed.http_version, echoed.content) == ("HTTP/2", body)
        redirect = client.get(https.url("/go"))
        assert redirect.headers["location"] == f"https://127.0.0.1:{https.port}/info"
    assert stats(https)["handshakes"] == 1, "one connection for all of it"


def test_http2_responses_carry_no_connection_headers(https: LiveServer) -> None:
    # h2 validates inbound headers: a Connection header would be a protocol error.
    with httpx.Client(verify=https.client_context, http2=True) as client:
        resp = client.get(https.url("/hop"))
    assert (resp.http_version, resp.text) == ("HTTP/2", "hop")
    for name in ("connection", "keep-alive", "transfer-encoding"):
        assert name not in resp.headers
    assert resp.headers["x-kept"] == "yes"


def test_http2_streams_are_multiplexed(https: LiveServer) -> None:
    async def run() -> list[tuple[str, int]]:
        async with httpx.AsyncClient(verify=https.client_context, http2=True) as client:
            resps = await asyncio.gather(*(client.get(https.url("/")) for _ in range(30)))
            return [(r.http_version, r.status_code) for r in resps]

    assert asyncio.run(run()) == [("HTTP/2", 200)] * 30
    assert stats(https)["handshakes"] == 1


def test_http2_header_limits(tls_files: TLSFiles) -> None:
    ctx = tls_files.client_context()
    settings = dict(tls_files.settings(), max_headers=20, max_request_header_size=4096)
    with serve(Root(), **settings) as live:
        with httpx.Client(verify=ctx, http2=True) as client:
            many = {f"x-h{i}": "v" for i in range(30)}
            resp = client.get(live.url("/"), headers=many)
            assert (resp.http_version, resp.status_code) == ("HTTP/2", 431)
            big = client.get(live.url("/"), headers={"x-big": "a" * 8000})
            assert (big.http_version, big.status_code) == ("HTTP/2", 431)
            assert client.get(live.url("/")).status_code == 200


def test_h2c_prior_knowledge_and_http1_on_one_port() -> None:
    with serve(Root(), apps={"/wsgi": info_app}, http2=True) as live:
        with httpx.Client(http1=False, http2=True) as client:
            resp = client.get(live.url("/"))
            assert (resp.http_version, resp.text) == ("HTTP/2", "hello")
            wsgi = info_of(live, client, "/wsgi/")
            assert (wsgi["wsgi.url_scheme"], wsgi["SERVER_PROTOCOL"]) == ("http", "HTTP/2.0")
        # HTTP/1 on the same port, including a request that arrives byte by byte.
        assert live.get("/")[0] == 200
        with Client(live.port) as raw:
            for b in b"GET / HTTP/1.1\r\nHost: x\r\n\r\n":
                raw.send(bytes([b]))
            assert raw.response().status == 200


def test_http2_edges_streaming_errors_limits() -> None:
    with serve(Root(), http2=True, max_request_body_size=1000) as live:
        with httpx.Client(http1=False, http2=True) as client:
            streamed = client.get(live.url("/stream?n=500"))
            assert streamed.http_version == "HTTP/2"
            assert streamed.text == "".join(f"chunk {i}\n" for i in range(500))
            assert client.head(live.url("/")).status_code == 200
            failed = client.get(live.url("/boom"))
            assert failed.status_code == 500 and "handler failure" in failed.text
            assert client.post(live.url("/echo"), content=b"x" * 5000).status_code == 413
            assert client.get(live.url("/nowhere")).status_code == 404
            # The connection survives all of that.
            assert client.get(live.url("/")).text == "hello"


def test_h2c_is_off_by_default() -> None:
    with serve(Root()) as live:
        with httpx.Client(http1=False, http2=True) as client:
            with pytest.raises(httpx.HTTPError):
                client.get(live.url("/"))
        assert live.get("/")[0] == 200


def h2_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, payload) of each HTTP/2 frame in ``data`` (RFC 9113 §4.1)."""
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        kind, payload = data[3], data[9 : 9 + length]
        data = data[9 + length :]
        yield kind, payload


def test_h2_settings_and_idle_timeout() -> None:
    with serve(Root(), http2=True, socket_timeout=0.5, max_request_header_size=65536) as live:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            sock.sendall(conn.data_to_send())
            # A silent HTTP/2 client gets the server's SETTINGS, later a GOAWAY, then EOF.
            received = b""
            for _ in range(100):
                chunk = sock.recv(65535)
                if not chunk:
                    break
                received += chunk
            else:
                pytest.fail("the idle connection was not closed")
        frames = list(h2_frames(received))
        settings_payload = next(p for kind, p in frames if kind == 0x4 and p)
        settings = {
            int.from_bytes(settings_payload[i : i + 2], "big"): int.from_bytes(
                settings_payload[i + 2 : i + 6], "big"
            )
            for i in range(0, len(settings_payload), 6)
        }
        assert settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 100
        assert settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == 65536
        assert any(kind == 0x7 for kind, _ in frames), "a GOAWAY before the close"


# -- client certificates -------------------------------------------------------------------------


@pytest.fixture
def client_certs(tls_files: TLSFiles) -> dict[str, trustme.LeafCert]:
    other = trustme.CA()
    return {
        "good": tls_files.ca.issue_cert(
            "alice@example.org", common_name="alice", organization_name="Example"
        ),
        "stranger": other.issue_cert("mallory@example.org", common_name="mallory"),
    }


def client_context(tls_files: TLSFiles, cert: trustme.LeafCert | None) -> ssl.SSLContext:
    ctx = tls_files.client_context()
    if cert is not None:
        cert.configure_cert(ctx)
    return ctx


def refused(port: int, ctx: ssl.SSLContext) -> bool:
    try:
        tls_get(port, ctx, "/info")
    except (ssl.SSLError, OSError, http.client.HTTPException):
        return True
    return False


def test_mtls_required(tls_files: TLSFiles, client_certs: dict[str, Any]) -> None:
    settings = dict(tls_files.settings(), ssl_client_ca=tls_files.ca_file)
    with serve(Root(), apps={"/wsgi": info_app}, ssl_verify_client="required", **settings) as live:
        ctx = client_context(tls_files, client_certs["good"])
        with httpx.Client(verify=ctx, http2=False) as client:
            ssl_info = info_of(live, client)["ssl"]
            wsgi_lines = client.get(live.url("/wsgi/")).text.splitlines()
        assert ssl_info["SSL_CLIENT_VERIFY"] == "SUCCESS"
        assert "CN=alice" in ssl_info["SSL_CLIENT_S_DN"]
        assert ssl_info["SSL_CLIENT_S_DN_CN"] == "alice"
        assert ssl_info["SSL_CLIENT_S_DN_O"] == "Example"
        assert "O=cherrypy_rs tests" in ssl_info["SSL_CLIENT_I_DN"]
        assert (
            ssl_info["SSL_CLIENT_CERT"] == client_certs["good"].cert_chain_pems[0].bytes().decode()
        )
        assert re.fullmatch(
            r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT", ssl_info["SSL_CLIENT_V_END"]
        )
        assert "'SSL_CLIENT_S_DN_CN': 'alice'" in wsgi_lines[1]
        assert refused(live.port, client_context(tls_files, None))
        assert refused(live.port, client_context(tls_files, client_certs["stranger"]))
        # Still serving the good client after the refusals.
        assert tls_get(live.port, ctx) == (200, b"hello")


def test_mtls_optional(tls_files: TLSFiles, client_certs: dict[str, Any]) -> None:
    settings = dict(tls_files.settings(), ssl_client_ca=tls_files.ca_file)
    with serve(Root(), ssl_verify_client="optional", **settings) as live:
        with httpx.Client(verify=client_context(tls_files, None), http2=False) as client:
            assert info_of(live, client)["ssl"]["SSL_CLIENT_VERIFY"] == "NONE"
        good = client_context(tls_files, client_certs["good"])
        with httpx.Client(verify=good, http2=True) as client:
            assert info_of(live, client)["ssl"]["SSL_CLIENT_S_DN_CN"] == "alice"
        assert refused(live.port, client_context(tls_files, client_certs["stranger"]))


def meddling_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers the SSL_* keys it was given, then changes them in its environ."""
    seen = {k: v for k, v in environ.items() if k.startswith("SSL_")}
    environ["SSL_CIPHER"] = "changed"
    environ.pop("SSL_PROTOCOL", None)
    environ["SSL_CLIENT_S_DN_CN"] = "eve"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(seen).encode()]


class Meddler:
    @cherrypy.expose
    def index(self) -> str:
        seen = dict(cherrypy.request.ssl)
        cherrypy.request.ssl["SSL_CIPHER"] = "changed"
        cherrypy.request.ssl.pop("SSL_PROTOCOL", None)
        return repr(seen)


def test_ssl_keys_are_each_connections_own_and_untouched_by_earlier_requests(
    tls_files: TLSFiles, client_certs: dict[str, Any]
) -> None:
    """The SSL_* keys a request sees are its connection's, whatever an earlier request
    (same connection, same worker thread, another connection) did to its own copy; a
    connection without a client certificate never sees another connection's."""
    import ast

    settings = dict(tls_files.settings(), ssl_client_ca=tls_files.ca_file)
    with serve(
        Meddler(), apps={"/wsgi": meddling_app}, ssl_verify_client="optional", **settings
    ) as live:
        alice = client_context(tls_files, client_certs["good"])
        nobody = client_context(tls_files, None)
        for path in ("/", "/wsgi/"):
            for ctx, http2 in ((alice, False), (nobody, False), (alice, True), (nobody, True)):
                with httpx.Client(verify=ctx, http2=http2) as client:
                    for _ in range(3):
                        resp = client.get(live.url(path))
                        assert resp.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
                        seen = ast.literal_eval(resp.text)
                        assert seen["SSL_PROTOCOL"] == "TLSv1.3"
                        assert seen["SSL_CIPHER"].startswith("TLS_")
                        if ctx is alice:
                            assert seen["SSL_CLIENT_VERIFY"] == "SUCCESS"
                            assert seen["SSL_CLIENT_S_DN_CN"] == "alice"
                        else:
                            assert seen["SSL_CLIENT_VERIFY"] == "NONE"
                            assert not any(k.startswith("SSL_CLIENT_S_") for k in seen)


def test_verify_client_needs_a_ca(tls_files: TLSFiles) -> None:
    with pytest.raises(ConfigError, match=r"server\.ssl_client_ca"):
        with serve(Root(), ssl_verify_client="required", **tls_files.settings()):
            pass
    with pytest.raises(ConfigError, match="'none', 'optional' or 'required'"):
        with serve(Root(), ssl_verify_client="maybe", **tls_files.settings()):
            pass


# -- bad input: silent, garbage, resets, plain HTTP ----------------------------------------------


def client_hello() -> bytes:
    """The bytes of a real ClientHello (TLS record), made with a memory BIO."""
    ctx = insecure_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_silent_clients_do_not_block_handshakes(https: LiveServer) -> None:
    ctx = https.client_context
    assert ctx is not None
    hello = client_hello()
    silent = [socket.create_connection(("127.0.0.1", https.port)) for _ in range(5)]
    stalled = [socket.create_connection(("127.0.0.1", https.port)) for _ in range(5)]
    try:
        for sock in stalled:
            sock.sendall(hello[: len(hello) // 2])
        started = time.monotonic()
        assert tls_get(https.port, ctx) == (200, b"hello")
        # Far below the 10 s handshake timeout the silent ones hold.
        assert time.monotonic() - started < 5
        assert https.server.core.connections >= 10
    finally:
        for sock in silent + stalled:
            sock.close()


def test_a_silent_client_is_dropped_after_the_timeout(tls_files: TLSFiles) -> None:
    with serve(Root(), socket_timeout=0.5, **tls_files.settings()) as live:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            assert sock.recv(1) == b""
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            sock.sendall(client_hello()[:20])
            assert sock.recv(1) == b""
        assert poll(lambda: stats(live)["handshake_timeouts"] == 2)


@pytest.mark.parametrize("kind", ["tls-silent", "tls-half-hello", "h2c-silent", "h2-silent"])
def test_stop_does_not_wait_for_silent_clients(tls_files: TLSFiles, kind: str) -> None:
    """A client in the handshake, or an HTTP/2 client that never answers the GOAWAY's
    PING, does not hold the graceful stop for server.shutdown_timeout."""
    settings: dict[str, Any] = {"http2": True} if kind == "h2c-silent" else tls_files.settings()
    with serve(Root(), **settings) as live:
        sock = socket.create_connection(("127.0.0.1", live.port), timeout=5)
        try:
            if kind == "tls-half-hello":
                hello = client_hello()
                sock.sendall(hello[: len(hello) // 2])
            elif kind == "h2c-silent":
                conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
                conn.initiate_connection()
                sock.sendall(conn.data_to_send())
                assert sock.recv(65535)  # the server's SETTINGS; then silence
            elif kind == "h2-silent":
                ctx = tls_files.client_context()
                ctx.set_alpn_protocols(["h2"])
                sock = ctx.wrap_socket(sock, server_hostname="localhost")
                assert sock.selected_alpn_protocol() == "h2"
                conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
                conn.initiate_connection()
                sock.sendall(conn.data_to_send())
                assert sock.recv(65535)
            assert poll(lambda: live.server.core.connections == 1)
            started = time.monotonic()
            assert live.server.core.stop() is True, "every connection finished in time"
            # shutdown_timeout is 5 s (what a waiting stop would take); the HTTP/2 drain
            # grace is 1 s.
            assert time.monotonic() - started < 4
        finally:
            sock.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x00\x10" + b"\xff" * 16,  # a handshake record holding nonsense
        b"\x16\x03\x03\xff\xff" + b"\x00" * 64,  # a record length beyond the limit
        b"\x00\x01\x02\x03 not tls at all",
        b"\x80\x2e\x01\x03\x01",  # an SSLv2-style hello
    ],
)
def test_garbage_client_hello_is_dropped(https: LiveServer, garbage: bytes) -> None:
    with socket.create_connection(("127.0.0.1", https.port), timeout=5) as sock:
        sock.sendall(garbage)
        data = b""
        try:
            for _ in range(10):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass  # closed with our garbage unread: a reset, also a drop
        # At most a TLS alert record (content type 21), never HTTP.
        assert data == b"" or data[0] == 21
    assert poll(lambda: stats(https)["handshake_failures"] == 1)
    assert tls_get(https.port, https.client_context or insecure_context()) == (200, b"hello")


@pytest.fixture
def debug_log() -> Iterator[None]:
    """The error log at DEBUG level (setLevel, which also clears logging's cache)."""
    import logging

    logger = logging.getLogger("cherrypy.error")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield
    logger.setLevel(level)


def test_dropped_connections_are_one_debug_line(
    tls_files: TLSFiles, capfd: pytest.CaptureFixture[str], debug_log: None
) -> None:
    with serve(Root(), **tls_files.settings()) as live:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            sock.sendall(b"\x00garbage")
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1) == b""
        assert poll(lambda: stats(live)["handshake_failures"] == 1)
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "TLS:" in line]
    assert len(lines) == 1, err
    assert re.fullmatch(
        r"\[.+\] TLS: 127\.0\.0\.1:\d+ sent 0x00, not a TLS handshake; closed", lines[0]
    )
    assert "Traceback" not in err


def test_no_debug_lines_by_default(tls_files: TLSFiles, capfd: pytest.CaptureFixture[str]) -> None:
    with serve(Root(), **tls_files.settings()) as live:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
            sock.sendall(b"\x00garbage")
        assert poll(lambda: stats(live)["handshake_failures"] == 1)
    assert "TLS:" not in capfd.readouterr().err


def test_reset_mid_handshake(https: LiveServer) -> None:
    hello = client_hello()
    for cut in (1, len(hello) // 2, len(hello)):
        sock = socket.create_connection(("127.0.0.1", https.port), timeout=5)
        sock.sendall(hello[:cut])
        # SO_LINGER 0: close() sends a RST instead of a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    assert https.get("/")[0] == 200
    assert poll(lambda: https.server.core.connections == 0)


def test_plain_http_to_the_tls_port(https: LiveServer) -> None:
    with Client(https.port) as raw:
        resp = raw.get("/")
        assert resp.status == 400
        assert b"https://" in resp.body
        assert raw.closed()
    assert stats(https)["plain_http"] == 1
    assert https.get("/")[0] == 200


# -- certificate files ---------------------------------------------------------------------------


def test_bad_files_fail_at_start_naming_the_file(tls_files: TLSFiles, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    other_key = trustme.CA().issue_cert("127.0.0.1").private_key_pem.bytes()
    mismatched = tmp_path / "other.key"
    mismatched.write_bytes(other_key)
    key = serialization.load_pem_private_key(other_key, password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    cases = [
        ({"ssl_certificate": str(tmp_path / "missing.pem")}, r"missing\.pem: no such file"),
        ({"ssl_private_key": str(mismatched)}, r"other\.key: this private key does not match"),
        ({"ssl_private_key": str(encrypted)}, r"encrypted\.key: the private key is encrypted"),
        ({"ssl_certificate": tls_files.key}, r"server\.key: contains no certificate"),
        ({"ssl_private_key": tls_files.cert}, r"server\.pem: contains no private key"),
        ({"ssl_module": "pyopenssl"}, r"server\.ssl_module"),
        ({"ssl_context": object()}, r"server\.ssl_context is not supported"),
    ]
    for override, message in cases:
        settings = dict(tls_files.settings(), **override)
        with pytest.raises(ConfigError, match=message):
            with serve(Root(), **settings):
                pass
    with pytest.raises(ConfigError, match=r"server\.ssl_certificate is not"):
        with serve(Root(), ssl_private_key=tls_files.key):
            pass


def test_ssl_module_names_are_accepted(tls_files: TLSFiles) -> None:
    for module in ("builtin", "rustls"):
        with serve(Root(), ssl_module=module, **tls_files.settings()) as live:
            assert tls_get(live.port, tls_files.client_context()) == (200, b"hello")


def test_ssl_ciphers_is_ignored_with_a_warning(
    tls_files: TLSFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cherrypy_rs._server import Server

    logged: list[str] = []
    monkeypatch.setattr(Server, "_warn", lambda self, message: logged.append(message))
    with serve(Root(), ssl_ciphers="HIGH:!aNULL", **tls_files.settings()) as live:
        assert tls_get(live.port, tls_files.client_context()) == (200, b"hello")
    assert any("server.ssl_ciphers is ignored" in m for m in logged), logged


def write_leaf(directory: Path, ca: trustme.CA, **kwargs: Any) -> dict[str, str]:
    leaf = ca.issue_cert("127.0.0.1", "localhost", **kwargs)
    (directory / "s.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    (directory / "s.key").write_bytes(leaf.private_key_pem.bytes())
    return {
        "ssl_certificate": str(directory / "s.pem"),
        "ssl_private_key": str(directory / "s.key"),
    }


def test_expiring_and_expired_certificates_warn(tmp_path: Path) -> None:
    ca = trustme.CA()
    now = datetime.datetime.now(datetime.timezone.utc)
    soon = write_leaf(tmp_path, ca, not_after=now + datetime.timedelta(days=5))
    with serve(Root(), **soon) as live:
        (warning,) = live.server.core.warnings
        assert "s.pem expires on" in warning and "renew it" in warning
    past = write_leaf(
        tmp_path,
        ca,
        not_before=now - datetime.timedelta(days=20),
        not_after=now - datetime.timedelta(days=10),
    )
    with serve(Root(), **past) as live:
        (warning,) = live.server.core.warnings
        assert "expired on" in warning and "still served" in warning
        assert tls_get(live.port, insecure_context()) == (200, b"hello")


# -- reload ----------------------------------------------------------------------------------------


def serial_of(sock: ssl.SSLSocket) -> int:
    from cryptography import x509

    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_reload_swaps_the_certificate_without_dropping_connections(tmp_path: Path) -> None:
    ca = trustme.CA()
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    files = write_leaf(tmp_path, ca)
    logged: list[str] = []
    with serve(Root(), **files) as live:
        live.server.log_error = lambda msg, **kw: logged.append(msg)
        kept = http.client.HTTPSConnection("127.0.0.1", live.port, timeout=5, context=ctx)
        kept.request("GET", "/")
        assert kept.getresponse().read() == b"hello"
        assert kept.sock is not None
        first = serial_of(kept.sock)
        write_leaf(tmp_path, ca)
        bus = Bus()
        live.server.subscribe(bus)
        bus.graceful()  # what SIGHUP does
        kept.request("GET", "/")
        assert kept.getresponse().read() == b"hello", "the open connection is kept"
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
                second = serial_of(sock)
        assert second != first
        # A reload with a broken key keeps the previous certificate and says why.
        (tmp_path / "s.key").write_bytes(trustme.CA().issue_cert("x").private_key_pem.bytes())
        live.server.graceful()
        assert any("TLS reload failed" in m and "s.key" in m for m in logged), logged
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
                assert serial_of(sock) == second
        kept.close()


# -- command line ----------------------------------------------------------------------------------


def test_cli_flags_set_the_server_keys(restore_config: None) -> None:
    for command, target in (("run", "m:Root"), ("wsgi", "m:app"), ("static", "."), ("demo", None)):
        argv = [command, *([target] if target else [])]
        argv += ["--certfile", "c.pem", "--keyfile", "k.pem", "--ca-certs", "chain.pem"]
        argv += ["--client-ca", "ca.pem", "--verify-client", "optional", "--http2"]
        apply_server_args(build_parser().parse_args(argv))
        assert cherrypy.config["server.ssl_certificate"] == "c.pem"
        assert cherrypy.config["server.ssl_private_key"] == "k.pem"
        assert cherrypy.config["server.ssl_certificate_chain"] == "chain.pem"
        assert cherrypy.config["server.ssl_client_ca"] == "ca.pem"
        assert cherrypy.config["server.ssl_verify_client"] == "optional"
        assert cherrypy.config["server.http2"] is True


def test_cli_serves_https_and_reloads_on_sighup(tmp_path: Path) -> None:
    ca = trustme.CA()
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    files = write_leaf(tmp_path, ca)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "cherrypy_rs", "wsgi", "tests.apps.cli_app:wsgi_app"),
            *("--bind", "127.0.0.1:0", "--certfile", files["ssl_certificate"]),
            *("--keyfile", files["ssl_private_key"]),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:
        pattern = re.compile(r"Serving on https://127\.0\.0\.1:(\d+)")
        assert poll(lambda: pattern.search("".join(lines)) is not None, timeout=15), lines
        match = pattern.search("".join(lines))
        assert match is not None
        port = int(match.group(1))
        with httpx.Client(verify=ctx, http2=True) as client:
            resp = client.get(f"https://127.0.0.1:{port}/x")
            assert (resp.http_version, resp.text) == ("HTTP/2", "wsgi  /x")

            def serial() -> int:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
                        return serial_of(sock)

            before = serial()
            write_leaf(tmp_path, ca)
            proc.send_signal(signal.SIGHUP)
            assert poll(lambda: "TLS certificate reloaded" in "".join(lines), timeout=15), lines
            assert serial() != before
            # The HTTP/2 connection opened before the reload still serves.
            assert client.get(f"https://127.0.0.1:{port}/y").text == "wsgi  /y"
    finally:
        proc.kill()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()


def test_cli_reports_a_bad_certificate(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            *(sys.executable, "-m", "cherrypy_rs", "run", "tests.apps.cli_app:Root"),
            *("--bind", "127.0.0.1:0", "--certfile", str(tmp_path / "none.pem")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert "none.pem: no such file" in out.stderr
    assert "Traceback" not in out.stderr
