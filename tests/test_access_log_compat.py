"""The access log of requests whose handlers change what it shows (``request.login``,
``remote.name``, ``request_line``, the ``User-Agent``/``Referer`` headers, tools.proxy,
auth_basic), in CherryPy's default format and in custom ``access_log_format``s: real
CherryPy 18 versus cherrypy_rs, line for line (time stamps and ids masked).
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("cherrypy") is None:
    pytest.skip("real CherryPy is not installed", allow_module_level=True)

from test_compat import Server, _free_port, _stop, _wait_ready

APP = Path(__file__).resolve().parent / "apps" / "access_log_compat_app.py"

REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/", {"Referer": "http://r/", "User-Agent": 'ua "q"'}),
    ("GET", "/login", {}),
    ("GET", "/name", {}),
    ("GET", "/line", {}),
    ("GET", "/agent", {"User-Agent": "original"}),
    ("GET", "/stream", {}),
    ("GET", "/forbidden", {}),
    ("GET", "/nowhere?x=1", {}),
    ("HEAD", "/", {}),
    ("GET", "/proxied", {"X-Forwarded-For": "10.1.2.3, 10.0.0.1"}),
    ("GET", "/private", {"Authorization": "Basic " + base64.b64encode(b"ann:pw").decode()}),
    ("GET", "/private", {}),
]

#: The time stamp, the RFC 3339 time, the request id and the port vary between runs.
MASKS = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\]"), "[T]"),
    # (CherryPy writes "+00:00Z", cherrypy_rs RFC 3339's "Z": see docs/compatibility.md.)
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?Z"), "Z"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"), "ID"),
)


def _run(impl: str, tmp_path: Path, extra: list[str]) -> list[str]:
    port = _free_port()
    log_file = tmp_path / f"{impl}.access.log"
    out = tmp_path / f"{impl}.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(APP), impl, str(port), str(log_file), *extra],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=APP.parent,
        )
    server = Server(impl, port, proc, out)
    try:
        _wait_ready(server)
        for method, target, headers in REQUESTS:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request(method, target, headers=headers)
                conn.getresponse().read()
            finally:
                conn.close()
    finally:
        _stop(server)  # SIGTERM: the log is complete once the process has exited
    text = log_file.read_text(encoding="utf-8")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    # The lines of REQUESTS come last (before them: the readiness probes').
    lines = text.splitlines()
    assert len(lines) >= len(REQUESTS), lines
    return lines[-len(REQUESTS) :]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="default"),
        pytest.param(['{h} {l} {u} {t} "{r}" {s} {b} "{f}" "{a}" {o}'], id="class-format"),
        pytest.param(["{i} {z} {s} {b} {u} {h}", "instance"], id="instance-format"),
    ],
)
def test_access_log_lines_match_cherrypy(tmp_path: Path, extra: list[str]) -> None:
    reference = _run("cherrypy", tmp_path, extra)
    ours = _run("cherrypy_rs", tmp_path, extra)
    assert ours == reference
