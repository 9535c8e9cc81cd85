"""The `cherrypy-rs` command, run as a real process and stopped with real signals."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"Serving on http://127\.0\.0\.1:(\d+)")


class Proc:
    """A cherrypy-rs process whose stderr is collected by a thread."""

    def __init__(self, *args: str, prefix: tuple[str, ...] = ()) -> None:
        self.popen = subprocess.Popen(
            [*prefix, sys.executable, "-m", "cherrypy_rs", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_port(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = SERVING.search(self.output())
            if match:
                return int(match.group(1))
            if self.popen.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"the server did not start:\n{self.output()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self.reader.join(timeout=5)
        if self.popen.stderr is not None:
            self.popen.stderr.close()


def get(port: int, path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("target", ["tests.apps.cli_app:Root", "tests.apps.cli_app:root"])
def test_run_serves_a_class_or_an_instance(procs: list[Proc], target: str) -> None:
    proc = Proc("run", target, "--bind", "127.0.0.1:0", "--threads", "2")
    procs.append(proc)
    port = proc.wait_port()
    assert get(port) == (200, b"cli app")
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0
    assert "Bus EXITED" in proc.output()


def test_sigterm_lets_the_request_in_flight_finish(procs: list[Proc]) -> None:
    proc = Proc("run", "tests.apps.cli_app:Root", "--bind", "127.0.0.1:0")
    procs.append(proc)
    port = proc.wait_port()
    result: list[tuple[int, bytes]] = []
    client = threading.Thread(target=lambda: result.append(get(port, "/slow?seconds=1")))
    client.start()
    # The request is in flight once the access log has not seen it yet but a
    # connection is open: give the client a moment to send it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not _connected(port):
        time.sleep(0.01)
    time.sleep(0.2)
    proc.popen.send_signal(signal.SIGTERM)
    client.join(timeout=15)
    assert result == [(200, b"slow done")]
    assert proc.popen.wait(timeout=15) == 0


def _connected(port: int) -> bool:
    # /proc/net/tcp lists established connections to our port (Linux).
    hexport = f"{port:04X}"
    try:
        text = Path("/proc/net/tcp").read_text()
    except OSError:
        return True
    return any(f":{hexport} " in line and " 01 " in line for line in text.splitlines()[1:])


def test_sigint_stops_gracefully(procs: list[Proc]) -> None:
    proc = Proc("run", "tests.apps.cli_app:Root", "--bind", "127.0.0.1:0")
    procs.append(proc)
    proc.wait_port()
    proc.popen.send_signal(signal.SIGINT)
    assert proc.popen.wait(timeout=15) == 0
    assert "Keyboard Interrupt: shutting down bus" in proc.output()


def test_port_in_use_is_a_clear_error(procs: list[Proc]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = Proc("run", "tests.apps.cli_app:Root", "--bind", f"127.0.0.1:{port}")
        procs.append(proc)
        assert proc.popen.wait(timeout=15) == 1
    proc.reader.join(timeout=5)
    out = proc.output()
    assert f"port {port} is already in use on 127.0.0.1" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:Root", "cannot import module 'no_such_module_xyz'"),
        ("tests.apps.cli_app:Nope", "module 'tests.apps.cli_app' has no attribute 'Nope'"),
        ("tests.apps.cli_app", "expected module:attr"),
    ],
)
def test_bad_targets_name_module_and_attribute(
    procs: list[Proc], target: str, message: str
) -> None:
    proc = Proc("run", target)
    procs.append(proc)
    assert proc.popen.wait(timeout=15) == 2
    proc.reader.join(timeout=5)
    assert message in proc.output()


def test_unknown_server_key_fails_at_start(procs: list[Proc], tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("[global]\nserver.socket_port = 0\nserver.bogus = 1\n")
    proc = Proc("run", "tests.apps.cli_app:Root", "--config", str(conf))
    procs.append(proc)
    assert proc.popen.wait(timeout=15) == 1
    proc.reader.join(timeout=5)
    assert "server.bogus" in proc.output()


def test_demo_serves(procs: list[Proc]) -> None:
    proc = Proc("demo", "--bind", "127.0.0.1:0")
    procs.append(proc)
    port = proc.wait_port()
    status, body = get(port)
    assert status == 200 and b"cherrypy_rs demo" in body
    assert get(port, "/greet/alice") == (200, b"<p>Hello, alice!</p>")
    assert get(port, "/boom")[0] == 500
    assert get(port, "/")[0] == 200
    status, body = get(port, "/wsgi/hello?x=1")
    assert status == 200
    assert b'"SCRIPT_NAME": "/wsgi", "PATH_INFO": "/hello", "QUERY_STRING": "x=1"' in body
    status, body = get(port, "/static/hello.txt")
    assert status == 200 and body.startswith(b"A static file")
    assert get(port, "/download") == (status, body)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0


@pytest.mark.parametrize(
    "target",
    ["tests.apps.cli_app:wsgi_app", "tests.apps.cli_app:make_wsgi()", "tests.apps.cli_app"],
)
def test_wsgi_serves_app_factory_and_module(procs: list[Proc], target: str) -> None:
    proc = Proc("wsgi", target, "--bind", "127.0.0.1:0", "--root-path", "/prefix")
    procs.append(proc)
    port = proc.wait_port()
    assert get(port, "/prefix/x") == (200, b"wsgi /prefix /x")
    assert get(port, "/other")[0] == 404
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.apps.cli_app:nope", "module 'tests.apps.cli_app' has no attribute 'nope'"),
        ("tests.apps.cli_app:root", "'tests.apps.cli_app:root' is not a WSGI callable"),
        ("tests.apps:x", "module 'tests.apps' has no attribute 'x'"),
    ],
)
def test_wsgi_bad_targets(procs: list[Proc], target: str, message: str) -> None:
    proc = Proc("wsgi", target)
    procs.append(proc)
    assert proc.popen.wait(timeout=15) == 2
    proc.reader.join(timeout=5)
    assert message in proc.output()
