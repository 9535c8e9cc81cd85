"""The `cherrypy-rs` command, run as a real process and stopped with real signals."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.apps.cli_app import SLOW_STARTED

ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"Serving on http://127\.0\.0\.1:(\d+)")


class Proc:
    """A cherrypy-rs process whose stderr is collected by a thread."""

    def __init__(
        self,
        *args: str,
        prefix: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        python_args: tuple[str, ...] | None = None,
    ) -> None:
        # python_args: the interpreter's arguments instead of `-m cherrypy_rs *args`.
        command = python_args if python_args is not None else ("-m", "cherrypy_rs", *args)
        self.popen = subprocess.Popen(
            [*prefix, sys.executable, *command],
            cwd=ROOT,
            env={**os.environ, **env} if env else None,
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
        if self.popen.poll() is not None:
            # Exited: its last lines may still be in the pipe (a loaded machine).
            self.reader.join(timeout=5)
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

    def wait_for(self, text: str, count: int = 1, timeout: float = 15.0) -> None:
        """Wait until ``text`` has appeared ``count`` times on stderr."""
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if time.monotonic() > deadline or self.popen.poll() is not None:
                raise AssertionError(f"{text!r} x{count} never came:\n{self.output()}")
            time.sleep(0.01)

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
    # In flight once the handler has logged that it started.
    proc.wait_for(SLOW_STARTED)
    proc.popen.send_signal(signal.SIGTERM)
    client.join(timeout=15)
    assert result == [(200, b"slow done")]
    assert proc.popen.wait(timeout=15) == 0


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
        assert proc.popen.wait(timeout=15) == 2
    proc.reader.join(timeout=5)
    out = proc.output()
    # One line, before any engine line, naming the address --bind asked for.
    assert out.count("\n") == 1, out
    assert out.startswith("cherrypy-rs: error: ")
    assert f"port {port} is already in use on 127.0.0.1" in out


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
    assert proc.popen.wait(timeout=15) == 2
    proc.reader.join(timeout=5)
    out = proc.output()
    assert out.count("\n") == 1 and "server.bogus" in out, out


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


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """The (ip, port) pairs process ``pid`` listens on over TCP (Linux /proc)."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:
                continue
            hexip, hexport = local.split(":")
            raw = bytes.fromhex(hexip)
            # /proc prints the address as host-order 32-bit words.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((socket.inet_ntop(family, raw), int(hexport, 16)))
    return found


def _makefile_demo_args() -> list[str]:
    """The arguments the Makefile's `demo` target (the README's first command) passes."""
    recipe = re.search(r"^demo:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "the Makefile has no demo target"
    words = recipe.group(1).split()
    assert words[0].endswith("/cherrypy-rs"), words
    return words[1:]


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("with_bind", [True, False], ids=["make-demo", "no-bind"])
def test_demo_binds_exactly_8080(procs: list[Proc], with_bind: bool) -> None:
    """`make demo` (and `cherrypy-rs demo` alone) listen on 127.0.0.1:8080 and nothing else."""
    if not _port_free(8080):
        pytest.skip("127.0.0.1:8080 is in use on this machine")
    args = _makefile_demo_args() if with_bind else ["demo"]
    proc = Proc(*args)
    procs.append(proc)
    assert proc.wait_port() == 8080
    assert _listening_addresses(proc.popen.pid) == {("127.0.0.1", 8080)}
    assert get(8080)[0] == 200
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0


def test_demo_bind_replaces_the_default(procs: list[Proc], tls_files: Any) -> None:
    """--bind OTHER listens on OTHER only (8080 stays closed), over HTTPS too."""
    proc = Proc(
        "demo", "--bind", "127.0.0.1:0", "--certfile", tls_files.cert, "--keyfile", tls_files.key
    )
    procs.append(proc)
    proc.wait_for("Serving on https://")
    match = re.search(r"Serving on https://127\.0\.0\.1:(\d+)", proc.output())
    assert match, proc.output()
    port = int(match.group(1))
    assert _listening_addresses(proc.popen.pid) == {("127.0.0.1", port)}
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0
