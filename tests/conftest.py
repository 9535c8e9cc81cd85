"""Test setup: the in-process server fixtures, and a clear message when the Rust
extension has not been built."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
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


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    """Processes a test starts (anything with ``stop()``), stopped when it ends."""
    started: list[Any] = []
    yield started
    for proc in started:
        proc.stop()
