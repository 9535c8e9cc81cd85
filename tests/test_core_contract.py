"""The contract between the Rust core and the Python side that is not a request: the
``server.*`` defaults, written once in Rust (``_core.SERVER_DEFAULTS``), are the ones
``cherrypy.server`` starts from, the ones ``_core.pyi`` declares and the ones the docs'
table shows. (``make lint`` runs ``mypy.stubtest`` on ``_core.pyi`` for the rest.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import cherrypy_rs as cherrypy
from cherrypy_rs import _core, _server

ROOT = Path(__file__).resolve().parents[1]

#: ``_core.Server`` parameters named differently from their config key.
PARAMETER_KEYS = {"host": "socket_host", "port": "socket_port"}

#: server.* keys Python checks and does not hand to ``_core.Server``.
PYTHON_ONLY = {"ssl_module"}


def docs_table() -> dict[str, Any]:
    """``server.<key>`` → default, from the table in docs/configuration.md."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("## `server.*`", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `server\.(\w+)` \| `([^`]*)` \|", section, flags=re.M)
    assert rows, "the server.* table is missing from docs/configuration.md"
    return {key: ast.literal_eval(default) for key, default in rows}


def stub_parameters() -> list[str]:
    """The keyword parameters of ``Server.__new__`` in ``_core.pyi``."""
    tree = ast.parse((ROOT / "cherrypy_rs" / "_core.pyi").read_text())
    server = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Server")
    new = next(n for n in server.body if isinstance(n, ast.FunctionDef) and n.name == "__new__")
    args = new.args
    return [a.arg for a in [*args.args[1:], *args.kwonlyargs]]


def test_the_defaults_come_from_rust() -> None:
    defaults = _core.SERVER_DEFAULTS
    assert defaults["socket_port"] == 8080 and defaults["thread_pool"] == 10
    assert defaults["max_request_body_size"] == 100 * 1024 * 1024
    assert _server.SERVER_DEFAULTS == defaults
    assert cherrypy.server.__class__().settings == defaults


def test_the_docs_table_shows_the_defaults() -> None:
    table = docs_table()
    assert sorted(table) == sorted(_core.SERVER_DEFAULTS)
    for key, default in _core.SERVER_DEFAULTS.items():
        shown = table[key]
        assert shown == default and type(shown) in (type(default), int), (key, shown, default)


def test_every_key_is_a_parameter_of_the_rust_server() -> None:
    declared = stub_parameters()
    expected = {PARAMETER_KEYS.get(p, p) for p in declared}
    missing = set(_core.SERVER_DEFAULTS) - PYTHON_ONLY - expected
    assert missing == set(), f"_core.Server (and _core.pyi) lack {sorted(missing)}"
    # The signature and the stub name the same parameters (stubtest checks the types).
    assert _core.Server.__text_signature__ is not None
    runtime = re.findall(r"(\w+)=", _core.Server.__text_signature__)
    assert runtime[:2] == ["host", "port"]
    assert set(runtime) == set(declared)


def test_the_rust_server_starts_with_the_defaults() -> None:
    core = _core.Server()
    assert core.thread_pool == _core.SERVER_DEFAULTS["thread_pool"]
    assert core.tls is False and core.bound_address is None
