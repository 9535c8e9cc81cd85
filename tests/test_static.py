"""Static files through a real socket: ``tools.staticdir`` / ``tools.staticfile``
sections served by the Rust routes, ``lib.static.serve_file`` & co. from handlers, and
the HTTP behaviour of both (RFC 9110 validators, conditional requests, ranges, HEAD,
content types, directories, precompressed siblings).

Traversal payloads go through raw sockets (``rawhttp``): HTTP clients normalise them
away before they reach the server.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rawhttp import Client, poll

import cherrypy_rs as cherrypy
from cherrypy_rs import _staticroutes
from cherrypy_rs.lib import static
from cherrypy_rs.toolbox import Tool

SMALL = b"hello static\n"
LARGE = bytes(range(256)) * 4096 * 3  # 3 MiB: served from a descriptor, not memory


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory tree to serve, and a secret file beside it."""
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_bytes(SMALL)
    (root / "style.css").write_text("body{}")
    (root / "index.html").write_text("<h1>root index</h1>")
    (root / "sub" / "index.html").write_text("<h1>sub index</h1>")
    (root / "data.mine").write_bytes(b"mine")
    (root / "large.bin").write_bytes(LARGE)
    (root / "sp ace.txt").write_text("space")
    (root / "app.js").write_text("js")
    (root / "app.js.gz").write_bytes(gzip.compress(b"js"))
    (root / "app.js.br").write_bytes(b"BR-BYTES")
    (tmp_path / "site2").mkdir()
    (tmp_path / "site2" / "x.txt").write_text("SIBLING-CONTENT")
    (tmp_path / "secret.txt").write_text("SECRET-CONTENT")
    os.symlink(tmp_path / "secret.txt", root / "link-out")
    os.symlink(root / "a.txt", root / "link-in")
    return root


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "dynamic root"

    @cherrypy.expose
    def file(self, name: str = "a.txt") -> Any:
        self.served = static.serve_file(os.path.join(self.site, name))
        return self.served

    @cherrypy.expose
    def download(self) -> Any:
        return static.serve_download(os.path.join(self.site, "a.txt"), "naïve.txt")

    @cherrypy.expose
    def fileobj(self) -> Any:
        return static.serve_fileobj(open(os.path.join(self.site, "a.txt"), "rb"), "text/plain")

    @cherrypy.expose
    def bytesobj(self) -> Any:
        return static.serve_fileobj(io.BytesIO(b"0123456789"), "application/x-demo")

    @cherrypy.expose
    def relative(self) -> Any:
        return static.serve_file("a.txt")

    @cherrypy.expose
    def missing(self) -> Any:
        try:
            return static.serve_file(os.path.join(self.site, "nope"))
        except cherrypy.NotFound:
            return "caught NotFound"

    site = ""


def config(site: Path, **extra: Any) -> dict[str, Any]:
    section = {
        "tools.staticdir.on": True,
        "tools.staticdir.dir": str(site),
        "tools.staticdir.index": "index.html",
        "tools.staticdir.content_types": {"mine": "application/x-mine"},
        "tools.staticdir.cache_valid": 0.0,
    }
    section.update(extra)
    return {
        "/static": section,
        "/one": {
            "tools.staticfile.on": True,
            "tools.staticfile.filename": str(site / "a.txt"),
        },
    }


@pytest.fixture
def live(serve_app: Any, site: Path) -> Any:
    root = Root()
    root.site = str(site)
    return serve_app(root, "", config(site))


@pytest.fixture
def python_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every request that reached the Python side of tools.staticdir."""
    calls: list[str] = []
    original = static.staticdir

    def spy(*args: Any, **kwargs: Any) -> bool:
        calls.append(cherrypy.request.path_info)
        return original(*args, **kwargs)

    monkeypatch.setattr(static, "staticdir", spy)
    # Paths with other tools run tools.staticdir through the hook machinery.
    monkeypatch.setattr(cherrypy.tools.staticdir, "callable", spy)
    return calls


@pytest.fixture(autouse=True)
def marker_tool() -> Iterator[None]:
    """``tools.test_marker``: a tool that does nothing, to turn "another tool" on."""
    cherrypy.tools.test_marker = Tool("before_handler", lambda: None)
    yield
    del cherrypy.tools.test_marker


def raw(live: Any, target: str, extra: str = "", method: str = "GET") -> Any:
    with Client(live.port) as c:
        c.send(f"{method} {target} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode())
        return c.response(method)


# -- serving files ---------------------------------------------------------------


def test_file_with_validators_from_rust(live: Any, python_calls: list[str]) -> None:
    status, headers, body = live.get("/static/a.txt")
    assert (status, body) == (200, SMALL)
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Length"] == str(len(SMALL))
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Server"].startswith("CherryPy/")
    mtime = os.stat(live.tree.apps[""].config["/static"]["tools.staticdir.dir"] + "/a.txt")
    assert headers["Last-Modified"] == email.utils.formatdate(mtime.st_mtime, usegmt=True)
    assert headers["ETag"].startswith('"') and headers["ETag"].endswith('"')
    assert python_calls == [], "the Rust route serves the file without Python"


def test_config_headers_and_access_log(
    serve_app: Any, site: Path, tmp_path: Path, python_calls: list[str]
) -> None:
    log = tmp_path / "access.log"
    conf = config(site, **{"response.headers.Cache-Control": "max-age=60"})
    live = serve_app(Root(), "", conf, access_log=str(log))
    status, headers, _ = live.get("/static/a.txt", headers={"Referer": "http://r/"})
    assert status == 200 and headers["Cache-Control"] == "max-age=60"
    assert python_calls == []
    line = f'"GET /static/a.txt HTTP/1.1" 200 {len(SMALL)} "http://r/"'
    assert poll(lambda: log.exists() and line in log.read_text()), log.read_text()


def test_config_headers_that_are_not_text(
    serve_app: Any, site: Path, python_calls: list[str]
) -> None:
    """A ``response.headers.*`` value that is not text is sent as the Python path (and
    CherryPy) sends it, ``str(value)``: the Rust route dropped it."""
    conf = config(site, **{"response.headers.X-Count": 5})
    status, headers, _ = serve_app(Root(), "", conf).get("/static/a.txt")
    assert (status, headers["X-Count"]) == (200, "5")
    assert python_calls == []
    # Text beyond ASCII goes out as Latin-1 bytes, as the Python path sends it (the
    # Rust route would send UTF-8): such a section stays on the Python path.
    conf = config(site, **{"response.headers.X-Text": "é"})
    status, headers, _ = serve_app(Root(), "", conf).get("/static/a.txt")
    assert (status, headers["X-Text"]) == (200, "é")
    assert python_calls == ["/static/a.txt"]


def test_default_favicon_at_the_root(serve_app: Any, python_calls: list[str]) -> None:
    live = serve_app(Root())
    status, headers, body = live.get("/favicon.ico")
    assert status == 200 and headers["Content-Type"] == "image/x-icon"
    assert body.startswith(b"\x00\x00\x01\x00")  # an ICO file

    class Own:
        @cherrypy.expose
        def favicon_ico(self) -> str:
            return "mine"

    assert serve_app(Own()).get("/favicon.ico")[2] == b"mine"
    assert serve_app(Root(), "/app").get("/app/favicon.ico")[0] == 404


def test_default_favicon_follows_the_root_config(serve_app: Any) -> None:
    """The default icon is served by Rust only while the root's config asks nothing of
    the request: behind ``tools.auth_basic`` it is protected as in CherryPy (it was
    served without asking), and ``response.headers.*`` of ``[/]`` are on it."""
    auth = {
        "tools.auth_basic.on": True,
        "tools.auth_basic.realm": "r",
        "tools.auth_basic.checkpassword": lambda realm, user, password: False,
    }
    assert serve_app(Root(), "", {"/": auth}).get("/favicon.ico")[0] == 401
    live = serve_app(Root(), "", {"/": {"response.headers.X-Site": "1"}})
    status, headers, _ = live.get("/favicon.ico")
    assert (status, headers["X-Site"], headers["Content-Type"]) == (200, "1", "image/x-icon")


def test_content_types(live: Any) -> None:
    assert live.get("/static/style.css")[1]["Content-Type"] == "text/css"
    assert live.get("/static/data.mine")[1]["Content-Type"] == "application/x-mine"
    assert live.get("/static/sp%20ace.txt")[2] == b"space"


def test_head_has_get_headers_and_no_body(live: Any) -> None:
    resp = raw(live, "/static/large.bin", method="HEAD")
    assert resp.status == 200
    assert resp.header("Content-Length") == str(len(LARGE))
    assert resp.body == b""


def test_large_file_streams_whole(live: Any) -> None:
    status, headers, body = live.get("/static/large.bin")
    assert status == 200
    assert headers["Content-Length"] == str(len(LARGE))
    assert body == LARGE


def test_staticfile_serves_every_path_of_its_section(live: Any) -> None:
    assert live.get("/one")[2] == SMALL
    assert live.get("/one/anything")[2] == SMALL


def test_dynamic_pages_beside_static_sections(live: Any) -> None:
    assert live.get("/")[2] == b"dynamic root"
    # A prefix that shares the section's name is not the section.
    assert live.get("/staticx")[0] == 404


# -- conditional requests ----------------------------------------------------------


def test_if_none_match_and_if_modified_since_give_304(live: Any) -> None:
    _, headers, _ = live.get("/static/a.txt")
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    status, h304, body = live.get("/static/a.txt", headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert h304["ETag"] == etag
    assert live.get("/static/a.txt", headers={"If-None-Match": f'"x", W/{etag}'})[0] == 304
    assert live.get("/static/a.txt", headers={"If-Modified-Since": last_modified})[0] == 304
    # Parsed, not string-compared: a later date in another format is still "not modified".
    later = "Sunday, 06-Nov-44 08:49:37 GMT"
    assert live.get("/static/a.txt", headers={"If-Modified-Since": later})[0] == 304
    earlier = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert live.get("/static/a.txt", headers={"If-Modified-Since": earlier})[0] == 200
    # If-None-Match wins over If-Modified-Since.
    both = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    assert live.get("/static/a.txt", headers=both)[0] == 200


def test_if_match_and_if_unmodified_since_give_412(live: Any) -> None:
    etag = live.get("/static/a.txt")[1]["ETag"]
    assert live.get("/static/a.txt", headers={"If-Match": '"other"'})[0] == 412
    assert live.get("/static/a.txt", headers={"If-Match": etag})[0] == 200
    assert live.get("/static/a.txt", headers={"If-Match": "*"})[0] == 200
    old = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert live.get("/static/a.txt", headers={"If-Unmodified-Since": old})[0] == 412


def test_a_changed_file_is_served_anew(live: Any, site: Path) -> None:
    etag = live.get("/static/a.txt")[1]["ETag"]
    (site / "a.txt").write_bytes(b"changed, and longer\n")
    status, headers, body = live.get("/static/a.txt", headers={"If-None-Match": etag})
    assert (status, body) == (200, b"changed, and longer\n")
    assert headers["ETag"] != etag


# -- ranges --------------------------------------------------------------------------


def test_single_range(live: Any) -> None:
    status, headers, body = live.get("/static/large.bin", headers={"Range": "bytes=10-19"})
    assert (status, body) == (206, LARGE[10:20])
    assert headers["Content-Range"] == f"bytes 10-19/{len(LARGE)}"
    assert headers["Content-Length"] == "10"
    status, headers, body = live.get("/static/a.txt", headers={"Range": "bytes=-3"})
    assert (status, body) == (206, SMALL[-3:])


def test_multiple_ranges_are_multipart_byteranges(live: Any) -> None:
    status, headers, body = live.get(
        "/static/large.bin", headers={"Range": "bytes=0-4,1000000-1000009"}
    )
    assert status == 206
    ctype = headers["Content-Type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=")[1].encode()
    assert int(headers["Content-Length"]) == len(body)
    parts = body.split(b"--" + boundary)
    assert parts[0] == b"\r\n" and parts[-1] == b"--\r\n"
    (head1, data1), (head2, data2) = (p.split(b"\r\n\r\n", 1) for p in parts[1:3])
    assert b"Content-range: bytes 0-4/" in head1 and data1 == LARGE[0:5] + b"\r\n"
    assert b"Content-range: bytes 1000000-1000009/" in head2
    assert data2 == LARGE[1000000:1000010] + b"\r\n"


def test_ranges_are_served_as_asked_unless_they_add_up_to_more_than_the_file(
    live: Any,
) -> None:
    """Overlapping, out-of-order ranges within the file's size come back in order (as
    CherryPy sends them); many overlapping ranges are merged: never more than the file."""
    status, headers, body = live.get("/static/a.txt", headers={"Range": "bytes=4-6,2-5"})
    assert status == 206
    boundary = headers["Content-Type"].split("boundary=")[1].encode()
    parts = [p.split(b"\r\n\r\n", 1) for p in body.split(b"--" + boundary)[1:-1]]
    assert [(h.split(b"Content-range: ")[1], d) for h, d in parts] == [
        (b"bytes 4-6/" + str(len(SMALL)).encode(), SMALL[4:7] + b"\r\n"),
        (b"bytes 2-5/" + str(len(SMALL)).encode(), SMALL[2:6] + b"\r\n"),
    ]
    whole = f"bytes={','.join(['0-'] * 60)}"
    status, headers, body = live.get("/static/a.txt", headers={"Range": whole})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 0-{len(SMALL) - 1}/{len(SMALL)}"
    assert body == SMALL


def test_serve_file_input_reports_how_far_the_body_has_read(serve_app: Any, site: Path) -> None:
    """``serve_file(...).input`` (CherryPy's ``file_generator.input``): ``tell()`` is
    where the body's reads have got to while it is sent, ``closed`` once it is."""
    # Far more than loopback's socket buffers hold (~10 MiB), so the body is still being
    # sent while the client has read only the head: a file in the page cache is read
    # as fast as the socket takes it.
    size = 64 * 1024 * 1024
    with (site / "huge.bin").open("wb") as f:
        f.truncate(size)  # sparse: zeros
    root = Root()
    root.site = str(site)
    live = serve_app(root, "", config(site))
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(b"GET /file?name=huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        received = sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 OK")
        served = root.served
        assert poll(lambda: served.input.tell() > 0)
        assert not served.input.closed
        assert served.input.tell() <= size
        _head, _, first = received.partition(b"\r\n\r\n")
        body = bytearray(first)
        while len(body) < size:
            chunk = sock.recv(1 << 20)
            assert chunk, "connection closed early"
            body += chunk
    assert body == bytes(size)
    assert poll(lambda: served.input.closed)
    assert served.input.tell() == size


def test_unsatisfiable_range_is_416(live: Any) -> None:
    status, headers, _ = live.get("/static/a.txt", headers={"Range": "bytes=500-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(SMALL)}"
    # A malformed Range is ignored: the whole file.
    status, _, body = live.get("/static/a.txt", headers={"Range": "bytes=5-1"})
    assert (status, body) == (200, SMALL)


def test_if_range(live: Any) -> None:
    etag = live.get("/static/a.txt")[1]["ETag"]
    ranged = {"Range": "bytes=0-0", "If-Range": etag}
    assert live.get("/static/a.txt", headers=ranged)[:3:2] == (206, SMALL[:1])
    stale = {"Range": "bytes=0-0", "If-Range": '"old"'}
    assert live.get("/static/a.txt", headers=stale)[:3:2] == (200, SMALL)


def test_http10_gets_no_ranges(live: Any) -> None:
    with Client(live.port) as c:
        c.send(b"GET /static/a.txt HTTP/1.0\r\nRange: bytes=0-0\r\n\r\n")
        resp = c.response()
    assert resp.status == 200 and resp.body == SMALL
    assert resp.header("Accept-Ranges") is None


# -- directories and precompressed files --------------------------------------------


def test_directory_index_and_trailing_slash(live: Any) -> None:
    assert live.get("/static/")[2] == b"<h1>root index</h1>"
    assert live.get("/static/sub/")[2] == b"<h1>sub index</h1>"
    for path in ("/static", "/static/sub"):
        status, headers, _ = live.get(path + "?q=1")
        assert status == 301
        assert headers["Location"] == live.url(path + "/?q=1")
    # A directory without an index, and a missing file: the application's 404 page.
    for path in ("/static/empty/", "/static/nope.txt"):
        status, headers, body = live.get(path)
        assert status == 404
        assert b"The path" in body and headers["Content-Type"].startswith("text/html")


def test_precompressed_siblings(serve_app: Any, site: Path) -> None:
    live = serve_app(Root(), "", config(site, **{"tools.staticdir.precompressed": True}))
    status, headers, body = live.get("/static/app.js", headers={"Accept-Encoding": "gzip, br"})
    assert (status, body) == (200, b"BR-BYTES")
    assert headers["Content-Encoding"] == "br"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"] == "text/javascript"
    _, headers, body = live.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == b"js"
    _, headers, body = live.get("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in headers and body == b"js"
    assert headers["Vary"] == "Accept-Encoding"


# -- safety ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/sub/%2E%2E/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/..%2Fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/..\\secret.txt",
        "/static/a.txt%00.html",
        "/static/link-out",
        "/static/../site2/x.txt",
        "/static/%2e%2e%2fsite2/x.txt",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
    ],
)
def test_nothing_outside_the_root_is_served(live: Any, target: str) -> None:
    resp = raw(live, target)
    assert resp.status in (403, 404), (target, resp.status)
    assert b"SECRET-CONTENT" not in resp.body and b"SIBLING-CONTENT" not in resp.body
    assert b"root:" not in resp.body


def test_a_symlink_inside_the_root_is_followed(live: Any) -> None:
    assert raw(live, "/static/link-in").body == SMALL


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_client_gone_mid_file_leaks_nothing(live: Any) -> None:
    # The first request fills the cache (which keeps one descriptor on a large file).
    assert live.get("/static/large.bin")[0] == 200
    baseline = _open_fds()
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", live.port), timeout=5)
        sock.sendall(b"GET /static/large.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()
    assert poll(lambda: _open_fds() <= baseline, timeout=5), (_open_fds(), baseline)
    assert live.get("/static/a.txt")[2] == SMALL


# -- falling through to the application, and the Python path ------------------------


def test_other_methods_reach_the_application(live: Any) -> None:
    status, _, _ = live.request("POST", "/static/a.txt", body=b"x=1")
    assert status == 404  # no page handler there, as in CherryPy


def test_a_handler_beneath_a_static_section_still_runs(serve_app: Any, site: Path) -> None:
    class Static:
        @cherrypy.expose
        def default(self, *args: str) -> str:
            return "handler:" + "/".join(args)

    root = Root()
    root.static = Static()  # type: ignore[attr-defined]
    live = serve_app(root, "", config(site))
    assert live.get("/static/a.txt")[2] == SMALL
    assert live.get("/static/not/there")[2] == b"handler:not/there"


def test_sections_with_other_tools_go_through_python(
    serve_app: Any, site: Path, python_calls: list[str]
) -> None:
    conf = config(site)
    conf["/static/private"] = {"tools.test_marker.on": True}
    conf["/static/plain"] = {"tools.staticdir.on": False}
    live = serve_app(Root(), "", conf)
    statics, sections = _staticroutes.compile_routes(live.tree.ordered(), cherrypy.config)
    assert sorted(route.prefix for route, _ in statics) == ["/favicon.ico", "/one", "/static"]
    assert sorted(prefix for prefix, _ in sections) == ["/static/plain", "/static/private"]
    (site / "private").mkdir()
    (site / "private" / "p.txt").write_text("private")
    (site / "plain").mkdir()
    (site / "plain" / "p.txt").write_text("plain")
    assert live.get("/static/a.txt")[2] == SMALL
    assert python_calls == []
    assert live.get("/static/private/p.txt")[2] == b"private"
    assert python_calls == ["/static/private/p.txt"]
    # staticdir is off there: the application answers (404: no handler).
    assert live.get("/static/plain/p.txt")[0] == 404


def test_match_and_global_staticdir_are_served_by_python(
    serve_app: Any, site: Path, python_calls: list[str], restore_config: None
) -> None:
    live = serve_app(Root(), "", config(site, **{"tools.staticdir.match": r"\.txt$"}))
    assert live.get("/static/a.txt")[2] == SMALL
    assert python_calls == ["/static/a.txt"]
    assert live.get("/static/style.css")[0] == 404
    assert python_calls[-1] == "/static/style.css"


def test_python_path_has_the_same_http_behaviour(
    serve_app: Any, site: Path, python_calls: list[str]
) -> None:
    conf = config(site, **{"tools.test_marker.on": True})
    live = serve_app(Root(), "", conf)
    status, headers, body = live.get("/static/a.txt")
    assert (status, body) == (200, SMALL)
    assert python_calls == ["/static/a.txt"]
    assert headers["Content-Type"] == "text/plain"
    etag = headers["ETag"]
    assert live.get("/static/a.txt", headers={"If-None-Match": etag})[0] == 304
    status, headers, body = live.get("/static/a.txt", headers={"Range": "bytes=1-2"})
    assert (status, body, headers["Content-Range"]) == (206, SMALL[1:3], f"bytes 1-2/{len(SMALL)}")
    assert live.get("/static/sub")[0] == 301
    assert live.get("/static/sub/")[2] == b"<h1>sub index</h1>"
    assert raw(live, "/static/../secret.txt").status == 403
    assert raw(live, "/static/..%2fsecret.txt").status == 404


# -- serve_file & co. from handlers -----------------------------------------------------


def test_serve_file_from_a_handler(live: Any) -> None:
    status, headers, body = live.get("/file")
    assert (status, body) == (200, SMALL)
    # As in CherryPy, tools.encode adds the charset to a handler's text output.
    assert headers["Content-Type"] == "text/plain;charset=utf-8"
    assert "Last-Modified" in headers and headers["Accept-Ranges"] == "bytes"
    etag = headers["ETag"]
    assert live.get("/file", headers={"If-None-Match": etag})[0] == 304
    status, headers, body = live.get("/file?name=large.bin", headers={"Range": "bytes=-4"})
    assert (status, body) == (206, LARGE[-4:])
    assert live.request("HEAD", "/file?name=large.bin")[1]["Content-Length"] == str(len(LARGE))


def test_serve_file_304_has_no_content_type(live: Any) -> None:
    """A 304 for a handler's file sends no representation metadata (RFC 9110
    §15.4.5), as CherryPy's 304 has no Content-Type, Content-Length or
    Content-Disposition (its test_static ``test_modif``)."""
    status, headers, _ = live.get("/download")
    assert status == 200 and headers["Content-Disposition"]
    resp = raw(live, "/download", f"If-None-Match: {headers['ETag']}\r\n")
    assert resp.status == 304 and resp.body == b""
    for name in ("Content-Type", "Content-Length", "Content-Disposition"):
        assert resp.header(name) is None, name
    assert resp.header("ETag") == headers["ETag"]


def test_serve_file_errors(live: Any) -> None:
    assert live.get("/file?name=nope")[0] == 404
    assert live.get("/file?name=sub")[0] == 404
    assert live.get("/missing")[2] == b"caught NotFound"
    assert live.get("/relative")[0] == 500


def test_serve_download_names_the_file(live: Any) -> None:
    status, headers, body = live.get("/download")
    assert (status, body) == (200, SMALL)
    assert headers["Content-Type"] == "application/x-download"
    # CherryPy's RFC 6266 form: an ASCII fallback (non-ASCII letters dropped) and the
    # UTF-8 name.
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"nave.txt\"; filename*=UTF-8''na%C3%AFve.txt"
    )


def test_serve_fileobj(live: Any) -> None:
    status, headers, body = live.get("/fileobj", headers={"Range": "bytes=0-4"})
    assert (status, body) == (206, SMALL[:5])
    status, headers, body = live.get("/bytesobj", headers={"Range": "bytes=2-3"})
    assert (status, body) == (206, b"23")
    assert headers["Content-Type"] == "application/x-demo"


def test_serve_file_with_response_stream(serve_app: Any, site: Path) -> None:
    """``response.stream`` on: the file is still sent by Rust, ranges included."""
    root = Root()
    root.site = str(site)
    live = serve_app(root, "", {"/": {"response.stream": True}})
    status, _, body = live.get("/file?name=large.bin")
    assert (status, body) == (200, LARGE)
    status, _, body = live.get("/file?name=large.bin", headers={"Range": "bytes=0-2"})
    assert (status, body) == (206, LARGE[:3])


def test_serve_file_under_a_wsgi_virtualhost(serve_app: Any, site: Path) -> None:
    """An application wrapped in ``_cpwsgi.VirtualHost`` (a WSGI middleware) serves
    ``serve_file`` bodies too, with ranges; another WSGI server gets the bytes."""
    root = Root()
    root.site = str(site)
    app = cherrypy.Application(root, "")
    vhost = cherrypy._cpwsgi.VirtualHost(app, {"virt.net": app})
    live = serve_app(apps={"": vhost})
    status, _, body = live.get("/file", headers={"Host": "virt.net"})
    assert (status, body) == (200, SMALL)
    status, _, body = live.get("/file", headers={"Range": "bytes=1-2"})
    assert (status, body) == (206, SMALL[1:3])
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/file", "SERVER_PROTOCOL": "HTTP/1.1"}
    started: list[str] = []
    chunks = vhost(environ, lambda status, headers, exc=None: started.append(status))
    assert started == ["200 OK"] and b"".join(chunks) == SMALL


def test_error_page_function_may_serve_a_file(serve_app: Any, site: Path) -> None:
    """An ``error_page.404`` function that returns ``serve_file(...)`` (CherryPy's
    test_static): its content is the error page."""

    def page_404(**kwargs: Any) -> Any:
        return static.serve_file(str(site / "sub" / "index.html"))

    root = Root()
    root.site = str(site)
    live = serve_app(root, "", {"/": {"error_page.404": page_404}})
    status, _, body = live.get("/no/such/page")
    assert status == 404 and body.startswith(b"<h1>sub index</h1>")


# -- configuration errors at mount -------------------------------------------------------


def test_missing_or_bad_dir_fails_at_mount_naming_the_section(tmp_path: Path) -> None:
    tree = cherrypy.Tree()
    with pytest.raises(ValueError, match=r"\[/assets\] tools.staticdir.dir .* not an existing"):
        tree.mount(
            Root(),
            "",
            {
                "/assets": {
                    "tools.staticdir.on": True,
                    "tools.staticdir.dir": str(tmp_path / "nope"),
                }
            },
        )
    with pytest.raises(ValueError, match=r"\[/assets\] tools.staticdir.dir is on but has no"):
        tree.mount(Root(), "", {"/assets": {"tools.staticdir.on": True}})
    with pytest.raises(ValueError, match=r"\[/assets\] tools.staticdir.dir 'rel' is relative"):
        tree.mount(
            Root(), "", {"/assets": {"tools.staticdir.on": True, "tools.staticdir.dir": "rel"}}
        )
    # A relative dir with a root is fine.
    (tmp_path / "rel").mkdir()
    tree.mount(
        Root(),
        "",
        {
            "/assets": {
                "tools.staticdir.on": True,
                "tools.staticdir.dir": "rel",
                "tools.staticdir.root": str(tmp_path),
            }
        },
    )


def test_rust_routes_and_the_python_fallback_resolve_dir_alike(
    serve_app: Any, site: Path, python_calls: list[str]
) -> None:
    """One rule (``lib.static.static_path``) for the routes compiled into Rust and the
    Python fallback: a ``pathlib.Path`` dir, and a relative dir under a Path root, serve
    the same files on both sides (CherryPy accepts both). Before, the route compiler
    refused a Path ("has no path") that the Python side served."""
    as_path = {"tools.staticdir.on": True, "tools.staticdir.dir": site}
    relative = {
        "tools.staticdir.on": True,
        "tools.staticdir.dir": Path(site.name),
        "tools.staticdir.root": site.parent,
    }
    through_python = {"tools.staticdir.match": r"\.txt$"}
    conf = {
        "/rust": as_path,
        "/python": {**as_path, **through_python},
        "/rust-rel": relative,
        "/python-rel": {**relative, **through_python},
    }
    live = serve_app(Root(), "", conf)
    for section in conf:
        assert live.get(f"{section}/a.txt")[2] == SMALL, section
    assert python_calls == ["/python/a.txt", "/python-rel/a.txt"]


@pytest.mark.parametrize("through_python", [False, True])
def test_a_relative_root_fails_at_mount_on_both_sides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through_python: bool
) -> None:
    """A root that is itself relative would make the files depend on the working
    directory (CherryPy fails every request then): refused at mount, naming the key,
    whether the section is served by Rust or by Python. Before, the Rust route served
    the directory below the working directory of the moment, a staticfile route failed
    only when the server started, and the Python side failed each request."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel" / "files").mkdir(parents=True)
    (tmp_path / "rel" / "f.txt").write_text("f")
    extra = {"tools.staticdir.match": "."} if through_python else {}
    tree = cherrypy.Tree()
    staticdir = {"tools.staticdir.on": True, "tools.staticdir.dir": "files"}
    with pytest.raises(ValueError, match=r"\[/a\] tools.staticdir.dir 'files' is relative to "):
        tree.mount(Root(), "", {"/a": {**staticdir, "tools.staticdir.root": "rel", **extra}})
    staticfile = {"tools.staticfile.on": True, "tools.staticfile.filename": "f.txt"}
    with pytest.raises(ValueError, match=r"\[/f\] tools.staticfile.filename 'f.txt' is rel"):
        tree.mount(Root(), "", {"/f": {**staticfile, "tools.staticfile.root": "rel"}})
    # The same with an absolute root mounts.
    root = str(tmp_path / "rel")
    tree.mount(Root(), "", {"/a": {**staticdir, "tools.staticdir.root": root, **extra}})


def test_static_sections_of_mounted_apps(serve_app: Any, site: Path) -> None:
    live = serve_app(apps={"/blog": cherrypy.Application(Root(), "/blog", config(site))})
    assert live.get("/blog/static/a.txt")[2] == SMALL
    assert live.get("/blog/static")[1]["Location"] == live.url("/blog/static/")


def test_global_staticdir_serves_below_each_application(
    serve_app: Any, site: Path, restore_config: None
) -> None:
    cherrypy.config.update({"tools.staticdir.on": True, "tools.staticdir.dir": str(site)})
    assert cherrypy.config["tools.staticdir.section"] == "global"
    live = serve_app(Root())
    assert live.get("/a.txt")[2] == SMALL
    assert live.get("/sub/")[0] == 404  # no index configured: the application answers
    assert live.get("/")[2] == b"dynamic root"


def test_tree_serve_dir(serve_app: Any, site: Path) -> None:
    (site / ".hidden").write_text("hidden")
    live = serve_app(Root())
    # Mounted while the server runs: the routes are rebuilt.
    live.tree.serve_dir(str(site), "/files", listing=True)
    assert live.get("/files/a.txt")[2] == SMALL
    status, headers, body = live.get("/files/empty/")
    assert status == 200 and b"Index of /files/empty/" in body
    assert headers["Content-Type"] == "text/html;charset=utf-8"
    status, _, body = live.get("/files/nope")
    assert (status, body) == (404, b"404 Not Found\n")
    assert live.get("/files/.hidden")[0] == 404
    assert live.get("/")[2] == b"dynamic root"
