"""Test setup: the in-process server fixtures, and a clear message when the Rust
extension has not been built."""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("cherrypy_rs._core") is None:
    raise RuntimeError(
        "cherrypy_rs._core is not built: run `make build-dev` (maturin develop) "
        "or `pip install -e .[test]` first"
    )

pytest_plugins = ["cherrypy_rs.testing"]
