"""Test setup: the in-process server fixtures, and a clear message when the Rust
extension has not been built."""

from __future__ import annotations

import importlib.util
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("cherrypy_rs._core") is None:
    raise RuntimeError(
        "cherrypy_rs._core is not built: run `make build-dev` (maturin develop) "
        "or `pip install -e .[test]` first"
    )

pytest_plugins = ["cherrypy_rs.testing"]


@pytest.fixture
def restore_config() -> Iterator[None]:
    """Snapshot the global config (and log.screen); put it back after the test."""
    import cherrypy_rs as cherrypy

    snapshot = dict(cherrypy.config)
    screen = cherrypy.log.screen
    yield
    cherrypy.config.reset()
    cherrypy.config.update(snapshot)
    cherrypy.log.screen = screen


class TLSFiles:
    """A test CA and a server certificate for 127.0.0.1/localhost, as PEM files made in
    this test run (no private key is ever committed)."""

    def __init__(self, directory: Path) -> None:
        import trustme

        self.dir = directory
        self.ca = trustme.CA(organization_name="cherrypy_rs tests")
        leaf = self.ca.issue_cert("127.0.0.1", "localhost", common_name="localhost")
        self.cert = self.write("server.pem", leaf.cert_chain_pems[0].bytes())
        self.key = self.write("server.key", leaf.private_key_pem.bytes())
        self.ca_file = self.write("ca.pem", self.ca.cert_pem.bytes())

    def write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def settings(self) -> dict[str, Any]:
        """``serve()`` keyword arguments for HTTPS with this certificate."""
        return {"ssl_certificate": self.cert, "ssl_private_key": self.key}

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return TLSFiles(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    """Processes a test starts (anything with ``stop()``), stopped when it ends."""
    started: list[Any] = []
    yield started
    for proc in started:
        proc.stop()
