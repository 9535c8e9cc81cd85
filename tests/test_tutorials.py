"""CherryPy's tutorials tut01-tut10, ported to examples/tutorial/ (our own code), give
the same answers as the originals under real CherryPy 18: each pair is served in its
own subprocess and sent the same requests; statuses, content types and the pages' text
(whitespace aside) must match."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent / "apps" / "run_tutorial.py"

#: Requests per tutorial: (method, path, body or None, extra headers).
CASES: dict[str, list[tuple[str, str, bytes | None, dict[str, str]]]] = {
    "tut01_helloworld": [("GET", "/", None, {}), ("GET", "/nope", None, {})],
    "tut02_expose_methods": [("GET", "/", None, {}), ("GET", "/show_msg", None, {})],
    "tut03_get_and_post": [
        ("GET", "/", None, {}),
        ("GET", "/greetUser?name=Ada", None, {}),
        ("GET", "/greetUser", None, {}),
        ("GET", "/greetUser?name=", None, {}),
        (
            "POST",
            "/greetUser",
            b"name=Bob",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ],
    "tut04_complex_site": [
        ("GET", "/", None, {}),
        ("GET", "/joke/", None, {}),
        ("GET", "/links/", None, {}),
        ("GET", "/links/extra/", None, {}),
        ("GET", "/links", None, {}),
    ],
    "tut05_derived_objects": [("GET", "/", None, {}), ("GET", "/another/", None, {})],
    "tut06_default_method": [
        ("GET", "/", None, {}),
        ("GET", "/remi", None, {}),
        ("GET", "/lorenzo", None, {}),
        ("GET", "/nobody", None, {}),
    ],
    "tut07_sessions": [("GET", "/", None, {}), ("GET", "/", None, {})],
    "tut08_generators_and_yield": [("GET", "/", None, {})],
    "tut09_files": [
        ("GET", "/", None, {}),
        (
            "POST",
            "/upload",
            b'--XyZ\r\nContent-Disposition: form-data; name="myFile"; filename="a.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\n" + b"x" * 10_000 + b"\r\n--XyZ--\r\n",
            {"Content-Type": "multipart/form-data; boundary=XyZ"},
        ),
    ],
    "tut10_http_errors": [
        ("GET", "/", None, {}),
        ("GET", "/doesNotExist", None, {}),
        ("GET", "/error?code=400", None, {}),
        ("GET", "/error?code=401", None, {}),
        ("GET", "/error?code=402", None, {}),
        ("GET", "/messageArg", None, {}),
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, impl: str, name: str) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(RUNNER), impl, name, str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{impl} {name} exited: {self.proc.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{impl} {name} did not start")

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str, str, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read().decode("utf-8", "replace")
            return resp.status, resp.reason, data, dict(resp.getheaders())
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def normalize(body: str, port: int) -> str:
    """Whitespace collapsed; the port, tracebacks and versions blanked."""
    body = body.replace(str(port), "PORT")
    body = re.sub(r"<pre id=\"traceback\">.*?</pre>", "", body, flags=re.S)
    body = re.sub(r"CherryPy \d+\.\d+\.\d+", "CherryPy X", body)
    body = re.sub(r"\s+", " ", body)
    body = re.sub(r">\s+", ">", body)
    return re.sub(r"\s+<", "<", body).strip()


@pytest.fixture(params=sorted(CASES))
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[str, Served, Served]]:
    name = request.param
    reference = Served("cherrypy", name)
    try:
        candidate = Served("cherrypy_rs", name)
    except Exception:
        reference.stop()
        raise
    try:
        yield name, reference, candidate
    finally:
        reference.stop()
        candidate.stop()


def test_tutorial_matches_cherrypy(pair: tuple[str, Served, Served]) -> None:
    name, reference, candidate = pair
    for method, path, body, headers in CASES[name]:
        want = reference.request(method, path, body, headers)
        got = candidate.request(method, path, body, headers)
        where = f"{name} {method} {path}"
        assert got[:2] == want[:2], where
        assert got[3].get("Content-Type") == want[3].get("Content-Type"), where
        assert normalize(got[2], candidate.port) == normalize(want[2], reference.port), where
        if "Location" in want[3]:
            assert got[3]["Location"].replace(str(candidate.port), "PORT") == want[3][
                "Location"
            ].replace(str(reference.port), "PORT"), where


def test_tut09_download_and_tut10_custom_page() -> None:
    """Files of our own (not CherryPy's PDF or HTML): the same headers and statuses."""
    files = Served("cherrypy_rs", "tut09_files")
    try:
        status, _, body, headers = files.request("GET", "/download", None, {})
        assert status == 200 and body.startswith("A file sent by tutorial 9")
        assert headers["Content-Type"] == "application/x-download"
        assert headers["Content-Disposition"] == 'attachment; filename="download_sample.txt"'
    finally:
        files.stop()
    errors = Served("cherrypy_rs", "tut10_http_errors")
    try:
        status, _, body, _ = errors.request("GET", "/error?code=403", None, {})
        assert status == 403 and "custom_error.html" in body and "403 Forbidden" in body
        status, _, _, headers = errors.request("GET", "/toggleTracebacks", None, {})
        assert status == 303
        assert (
            'Toggle tracebacks <a href="toggleTracebacks">on</a>'
            in errors.request("GET", "/", None, {})[2]
        )
    finally:
        errors.stop()
