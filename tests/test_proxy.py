"""Behind a reverse proxy, through the real command: forwarding headers (nginx's
X-Forwarded-*, RFC 7239 Forwarded) and HAProxy's PROXY protocol are believed from a
trusted peer only (``--forwarded-allow-ips``, ``FORWARDED_ALLOW_IPS``). The set-ups are
those of docs/deployment.md. A peer is made untrusted by trusting another address."""

from __future__ import annotations

import json
import re
import socket
import struct
from typing import Any

import pytest

from cherrypy_rs.testing import serve as serve_in_process
from tests.apps.proxy_app import Root
from tests.test_cli import Proc

#: An address that is not this test's (127.0.0.1): trusting it distrusts us.
OTHER = "10.9.9.9"

#: What nginx sends with docs/deployment.md's `location /` block, for a client at
#: 203.0.113.7 that asked for https://example.org/.
NGINX_HEADERS = {
    "Host": "example.org",
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
}


def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes on a new connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                # Closed with our request unread: nothing was answered.
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def request(headers: dict[str, str], path: str = "/") -> bytes:
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if "Host" not in headers:
        lines.append("Host: backend")
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode()


def answer(raw: bytes) -> tuple[int, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if status == 200 else body


def serve(procs: list[Proc], *args: str, env: dict[str, str] | None = None) -> int:
    proc = Proc(*args, "--bind", "127.0.0.1:0", env=env)
    procs.append(proc)
    return proc.wait_port()


def test_nginx_setup_trusted(procs: list[Proc]) -> None:
    """docs/deployment.md, nginx on the same machine: the default trusts 127.0.0.1."""
    port = serve(procs, "wsgi", "tests.apps.proxy_app:app")
    status, env = answer(exchange(port, request(NGINX_HEADERS)))
    assert status == 200
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "example.org"
    assert env["SERVER_NAME"] == "example.org"
    # X-Forwarded-Host (a proxy that keeps the backend's Host) is honoured too.
    headers = {**NGINX_HEADERS, "Host": "backend:8000", "X-Forwarded-Host": "www.example.org"}
    assert answer(exchange(port, request(headers)))[1]["HTTP_HOST"] == "www.example.org"


def test_nginx_setup_untrusted(procs: list[Proc]) -> None:
    """nginx on another machine (--forwarded-allow-ips its address): a client that sends
    the same headers directly is not believed."""
    port = serve(procs, "wsgi", "tests.apps.proxy_app:app", "--forwarded-allow-ips", OTHER)
    status, env = answer(exchange(port, request(NGINX_HEADERS)))
    assert status == 200
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == "example.org"  # the client's own Host header, as sent


@pytest.mark.parametrize("trusted", [True, False])
def test_cherrypy_request_remote_and_base(procs: list[Proc], trusted: bool) -> None:
    """request.remote, request.base and cherrypy.url() come from what Rust corrected;
    the trust list comes from the FORWARDED_ALLOW_IPS environment variable here."""
    env = {"FORWARDED_ALLOW_IPS": "127.0.0.1" if trusted else OTHER}
    port = serve(procs, "run", "tests.apps.proxy_app:Root", env=env)
    forwarded = {
        "Host": "backend",
        "Forwarded": 'for="203.0.113.9:5000";proto=https;host=shop.example',
    }
    status, seen = answer(exchange(port, request(forwarded)))
    assert status == 200
    if trusted:
        assert seen == {
            "remote": "203.0.113.9",
            "scheme": "https",
            "base": "https://shop.example",
            "url": "https://shop.example/page",
        }
    else:
        assert seen["remote"] == "127.0.0.1"
        assert seen["base"] == "http://backend"


def test_a_client_cannot_choose_its_address_through_the_proxy(procs: list[Proc]) -> None:
    """The chain is read from the right: the address the trusted proxy saw wins over
    what the client put in X-Forwarded-For itself."""
    port = serve(procs, "wsgi", "tests.apps.proxy_app:app", "--forwarded-allow-ips", "127.0.0.1")
    headers = {"X-Forwarded-For": "1.1.1.1, 203.0.113.7"}
    assert answer(exchange(port, request(headers)))[1]["REMOTE_ADDR"] == "203.0.113.7"


def proxy_v1(source: str, port: int) -> bytes:
    return f"PROXY TCP4 {source} 127.0.0.1 {port} 8000\r\n".encode()


def proxy_v2(source: str, port: int) -> bytes:
    body = socket.inet_aton(source) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", port, 80)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


@pytest.mark.parametrize("header", [proxy_v1, proxy_v2], ids=["v1", "v2"])
def test_haproxy_setup_trusted(procs: list[Proc], header: Any) -> None:
    """docs/deployment.md, HAProxy in TCP mode with send-proxy / send-proxy-v2."""
    port = serve(
        procs,
        "wsgi",
        "tests.apps.proxy_app:app",
        "--proxy-protocol",
        "--forwarded-allow-ips",
        "127.0.0.1",
    )
    status, env = answer(exchange(port, header("198.51.100.20", 4242) + request({})))
    assert status == 200
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("198.51.100.20", "4242")
    # A connection from the trusted balancer without the header is refused (closed).
    assert exchange(port, request({})) == b""


def test_haproxy_setup_untrusted(procs: list[Proc]) -> None:
    """From a peer that is not the balancer no PROXY header is read: one sent anyway is
    not HTTP (400), and the address it claims never reaches the application."""
    port = serve(
        procs,
        "wsgi",
        "tests.apps.proxy_app:app",
        "--proxy-protocol",
        "--forwarded-allow-ips",
        OTHER,
    )
    raw = exchange(port, proxy_v1("198.51.100.20", 4242) + request({}))
    assert raw.startswith(b"HTTP/1.1 400"), raw
    assert b"198.51.100.20" not in raw
    status, env = answer(exchange(port, request({})))
    assert status == 200 and env["REMOTE_ADDR"] == "127.0.0.1"


def test_a_bad_allow_list_is_one_line(procs: list[Proc]) -> None:
    proc = Proc("wsgi", "tests.apps.proxy_app:app", "--forwarded-allow-ips", "10.0.0.0/40")
    procs.append(proc)
    assert proc.popen.wait(timeout=15) == 2
    proc.reader.join(timeout=5)
    out = proc.output()
    assert out.count("\n") == 1 and "server.forwarded_allow_ips" in out, out


def test_haproxy_header_then_tls(procs: list[Proc], tls_files: Any) -> None:
    """docs/deployment.md's HAProxy command terminates TLS itself: the PROXY header
    comes first, then the TLS handshake."""
    proc = Proc(
        "wsgi",
        "tests.apps.proxy_app:app",
        "--bind",
        "127.0.0.1:0",
        "--proxy-protocol",
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--certfile",
        tls_files.cert,
        "--keyfile",
        tls_files.key,
    )
    procs.append(proc)
    proc.wait_for("Serving on https://")
    match = re.search(r"Serving on https://127\.0\.0\.1:(\d+)", proc.output())
    assert match
    port = int(match.group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(proxy_v2("198.51.100.30", 5151))
        with tls_files.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(request({}))
            chunks = []
            while chunk := tls.recv(65536):
                chunks.append(chunk)
    status, env = answer(b"".join(chunks))
    assert status == 200
    assert env["REMOTE_ADDR"] == "198.51.100.30"
    assert env["wsgi.url_scheme"] == "https"


def test_in_process_trusts_no_one_unless_configured() -> None:
    """quickstart()/engine.start() keep CherryPy's behaviour (tools.proxy reads the
    headers); server.forwarded_allow_ips turns Rust's correction on there too."""
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    with serve_in_process(Root()) as live:
        seen = json.loads(live.get("/", headers=headers)[2])
        assert (seen["remote"], seen["scheme"]) == ("127.0.0.1", "http")
    with serve_in_process(Root(), forwarded_allow_ips="127.0.0.1") as live:
        seen = json.loads(live.get("/", headers=headers)[2])
        assert (seen["remote"], seen["scheme"]) == ("203.0.113.7", "https")


def test_an_empty_allow_list_trusts_no_one(procs: list[Proc]) -> None:
    port = serve(procs, "wsgi", "tests.apps.proxy_app:app", "--forwarded-allow-ips", "")
    assert answer(exchange(port, request(NGINX_HEADERS)))[1]["REMOTE_ADDR"] == "127.0.0.1"


def test_a_custom_tool_from_cptools_proxy() -> None:
    # CherryPy's own recipe for a renamed proxy tool: the callable by its lib.cptools name.
    import cherrypy_rs as cherrypy

    cherrypy.tools.behind_nginx = cherrypy.Tool("before_request_body", cherrypy.lib.cptools.proxy)
    try:
        config = {"/": {"tools.behind_nginx.on": True}}
        headers = {"X-Forwarded-Host": "shop.example.com"}
        with serve_in_process(Root(), "", config) as live:
            seen = json.loads(live.get("/", headers=headers)[2])
        assert seen["base"] == "http://shop.example.com"
    finally:
        del cherrypy.tools.behind_nginx
