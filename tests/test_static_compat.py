"""``tools.staticdir`` / ``tools.staticfile`` on real CherryPy 18 versus cherrypy_rs:
the same program (``tests/apps/static_compat_app.py``) on both, the same raw requests,
the same statuses, key headers and bodies.

Left out on purpose, because CherryPy gets them wrong (docs/compatibility.md): a
directory requested without its slash (CherryPy serves the index at the wrong URL;
cherrypy_rs redirects), the type of an unknown extension (CherryPy sends text/html),
``If-Modified-Since`` compared as a string, and the sibling directory that shares the
root's name prefix (CherryPy serves it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rawhttp import Client, Response
from test_compat import APPS_DIR, Server, _free_port, _stop, _wait_ready

APP = APPS_DIR / "static_compat_app.py"
HEADERS = ("content-type", "content-length", "last-modified", "accept-ranges", "content-range")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("static-compat") / "site"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"0123456789abcdefghij\n")
    (root / "style.css").write_text("body{}")
    (root / "app.js").write_text("js")
    (root / "data.mine").write_text("mine")
    (root / "index.html").write_text("<h1>index</h1>")
    (root / "sub" / "index.html").write_text("<h1>sub</h1>")
    (root.parent / "secret.txt").write_text("SECRET")
    return root


@pytest.fixture(scope="module")
def servers(
    site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    logdir = tmp_path_factory.mktemp("static-compat-logs")
    started = []
    for impl in ("cherrypy", "cherrypy_rs"):
        port = _free_port()
        log = logdir / f"{impl}.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                [sys.executable, str(APP), impl, str(port), str(site)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=APPS_DIR,
            )
        started.append(Server(impl, port, proc, log))
    try:
        for server in started:
            _wait_ready(server)
        yield started[0], started[1]
    finally:
        for server in started:
            _stop(server)


def send(
    server: Server, method: str, target: str, extra: str = "", proto: str = "HTTP/1.1"
) -> Response:
    host = f"Host: 127.0.0.1:{server.port}\r\n" if proto == "HTTP/1.1" else ""
    with Client(server.port) as c:
        c.send(f"{method} {target} {proto}\r\n{host}{extra}\r\n".encode())
        return c.response(method)


def same_but_boundary(resp: Response) -> bytes:
    ctype = resp.header("Content-Type") or ""
    assert ctype.startswith("multipart/byteranges; boundary="), ctype
    return resp.body.replace(ctype.split("boundary=")[1].encode(), b"BOUNDARY")


CASES = [
    ("file", "GET", "/static/a.txt", ""),
    ("css", "GET", "/static/style.css", ""),
    ("js", "GET", "/static/app.js", ""),
    ("content_types", "GET", "/static/data.mine", ""),
    ("index", "GET", "/static/", ""),
    ("sub_index", "GET", "/static/sub/", ""),
    ("section_slash", "GET", "/static", ""),
    ("head", "HEAD", "/static/a.txt", ""),
    ("range", "GET", "/static/a.txt", "Range: bytes=2-5\r\n"),
    ("suffix_range", "GET", "/static/a.txt", "Range: bytes=-4\r\n"),
    ("open_range", "GET", "/static/a.txt", "Range: bytes=15-\r\n"),
    ("unsatisfiable", "GET", "/static/a.txt", "Range: bytes=100-200\r\n"),
    ("multi_range", "GET", "/static/a.txt", "Range: bytes=0-1,5-6\r\n"),
    # Overlapping and out of order, adding up to less than the file: served as asked.
    ("overlapping_ranges", "GET", "/static/a.txt", "Range: bytes=4-6,2-5\r\n"),
    ("handler_range", "GET", "/sliced", "Range: bytes=2-5\r\n"),
    ("handler_overlapping_ranges", "GET", "/sliced", "Range: bytes=4-6,2-5\r\n"),
    ("missing", "GET", "/static/nope.txt", ""),
    ("traversal", "GET", "/static/../secret.txt", ""),
    ("post", "POST", "/static/a.txt", "Content-Length: 0\r\n"),
    ("staticfile", "GET", "/one", ""),
    ("staticfile_below", "GET", "/one/x/y", ""),
    ("handler_tool_config_overrides", "GET", "/handled", ""),
    ("dynamic", "GET", "/", ""),
    ("decorator_staticdir", "GET", "/deco/a.txt", ""),
    ("decorator_staticdir_sub", "GET", "/deco/sub/", ""),
    ("decorator_staticdir_range", "GET", "/deco/a.txt", "Range: bytes=2-5\r\n"),
    ("decorator_staticdir_missing", "GET", "/deco/nope.txt", ""),
    ("decorator_staticdir_traversal", "GET", "/deco/../secret.txt", ""),
    ("decorator_staticfile", "GET", "/decofile", ""),
    ("decorator_staticfile_head", "HEAD", "/decofile", ""),
]


@pytest.mark.parametrize(("case", "method", "target", "extra"), CASES, ids=[c[0] for c in CASES])
def test_same_as_cherrypy(
    servers: tuple[Server, Server], case: str, method: str, target: str, extra: str
) -> None:
    reference, candidate = (send(s, method, target, extra) for s in servers)
    assert candidate.status == reference.status, case
    for name in HEADERS:
        if "ranges" in case or case == "multi_range":
            if name in ("content-type", "content-length"):
                continue  # the boundary differs (and so the length)
        if reference.status >= 400 and name == "content-length":
            continue  # error pages differ in their traceback-free text length
        if 300 <= reference.status < 400 and name not in ("content-type",):
            continue  # CherryPy leaks the file's headers onto its redirect
        assert candidate.header(name) == reference.header(name), (case, name)
    location = reference.header("Location")
    assert (candidate.header("Location") or "").split(":", 2)[-1].split("/", 1)[-1] == (
        (location or "").split(":", 2)[-1].split("/", 1)[-1]
    ), case
    if "ranges" in case or case == "multi_range":
        # Byte for byte, but for the boundary.
        assert same_but_boundary(candidate) == same_but_boundary(reference), case
    elif reference.status < 300:
        assert candidate.body == reference.body, case


def test_not_modified_since_last_modified(servers: tuple[Server, Server]) -> None:
    for server in servers:
        last_modified = send(server, "GET", "/static/a.txt").header("Last-Modified")
        resp = send(server, "GET", "/static/a.txt", f"If-Modified-Since: {last_modified}\r\n")
        assert (server.impl, resp.status, resp.body) == (server.impl, 304, b"")


def test_http10_has_no_ranges(servers: tuple[Server, Server]) -> None:
    reference, candidate = (
        send(s, "GET", "/static/a.txt", "Range: bytes=0-0\r\n", proto="HTTP/1.0") for s in servers
    )
    assert (candidate.status, candidate.body) == (reference.status, reference.body)
    assert candidate.header("Accept-Ranges") == reference.header("Accept-Ranges") is None
