"""Real redis-server and memcached processes for the session tests: each started on a
free loopback port, awaited until it answers, and stopped by PID at the end.

A missing binary skips the tests that need it on a developer's machine, with the
command that installs it; in CI (``CI`` set in the environment) it is an error, since
``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str, package: str) -> str:
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
    )
    if path is None:
        message = f"{name} is not installed (apt-get install -y {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class StoreServer:
    """A store process on 127.0.0.1:<port>."""

    def __init__(self, argv: list[str], port: int, ping: bytes, answer: bytes) -> None:
        self.port = port
        self.argv = argv
        self.ping = ping
        self.answer = answer
        self.popen: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.popen = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited at start: {self.argv}")
            if self.answers():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} did not answer on port {self.port}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(self.ping)
                return s.recv(64).startswith(self.answer)
        except OSError:
            return False

    def stop(self) -> None:
        popen = self.popen
        if popen is not None and popen.poll() is None:
            os.kill(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)
        self.popen = None


def start_redis(directory: str) -> StoreServer:
    binary = _binary("redis-server", "redis-server")
    pytest.importorskip("redis", reason="the redis client: pip install redis")
    port = free_port()
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        directory,
        "--daemonize",
        "no",
    ]
    return StoreServer(argv, port, b"PING\r\n", b"+PONG")


def start_memcached() -> StoreServer:
    binary = _binary("memcached", "memcached")
    pytest.importorskip("pymemcache", reason="the memcached client: pip install pymemcache")
    port = free_port()
    argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"]
    if os.getuid() == 0:
        # memcached refuses to run as root unless told which user to be.
        argv += ["-u", pwd.getpwuid(0).pw_name]
    return StoreServer(argv, port, b"version\r\n", b"VERSION")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    server = start_redis(str(tmp_path_factory.mktemp("redis")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def memcached_server() -> Iterator[StoreServer]:
    server = start_memcached()
    yield server
    server.stop()


def redis_url(server: Any) -> str:
    return f"redis://127.0.0.1:{server.port}/0"
