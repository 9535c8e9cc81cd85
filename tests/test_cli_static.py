"""``cherrypy-rs static``: a static-file server run as a real process, stopped with
real signals; every response is made by Rust (no Python per request)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path

import pytest
from rawhttp import Client
from test_cli import Proc, get


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    (root / "docs").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "docs" / "guide.txt").write_text("guide")
    (root / "docs" / "<b>&amp;.txt").write_text("odd name")
    (root / ".env").write_text("SECRET=1")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    (tmp_path / "outside.txt").write_text("OUTSIDE-CONTENT")
    return root


def start(procs: list[Proc], *args: str, prefix: tuple[str, ...] = ()) -> tuple[Proc, int]:
    proc = Proc("static", *args, "--bind", "127.0.0.1:0", prefix=prefix)
    procs.append(proc)
    return proc, proc.wait_port()


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    with Client(port) as c:
        resp = c.get(target)
        return resp.status, resp.body


def test_serves_files_index_and_plain_errors(procs: list[Proc], tree: Path) -> None:
    _, port = start(procs, str(tree))
    assert get(port, "/") == (200, b"<h1>home</h1>")
    assert get(port, "/docs/guide.txt") == (200, b"guide")
    assert get(port, "/nope") == (404, b"404 Not Found\n")
    # No listing unless asked for: a directory without an index is not found.
    assert get(port, "/docs/")[0] == 404
    with Client(port) as c:
        resp = c.get("/empty")
        assert resp.status == 404
        c.send(b"DELETE /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
        resp = c.response()
        assert resp.status == 405 and resp.header("Allow") == "GET, HEAD"


def test_listing_escapes_names_and_redirects_directories(procs: list[Proc], tree: Path) -> None:
    _, port = start(procs, str(tree), "--listing", "--index", "")
    with Client(port) as c:
        resp = c.get("/docs?x=1")
        assert resp.status == 301 and resp.header("Location") == "/docs/?x=1"
    status, body = get(port, "/docs/")
    assert status == 200
    assert b"Index of /docs/" in body
    assert b'href="%3Cb%3E%26amp%3B.txt"' in body and b"&lt;b&gt;&amp;amp;.txt" in body
    assert b'href="guide.txt"' in body and b"<b>" not in body
    status, body = get(port, "/")
    assert status == 200 and b'href="docs/"' in body and b".env" not in body


def test_dotfiles_only_with_the_flag(procs: list[Proc], tree: Path) -> None:
    _, port = start(procs, str(tree))
    assert get(port, "/.env")[0] == 404
    assert get(port, "/.git/config")[0] == 404
    _, port = start(procs, str(tree), "--dotfiles")
    assert get(port, "/.env") == (200, b"SECRET=1")


@pytest.mark.parametrize(
    "target", ["/../outside.txt", "/%2e%2e/outside.txt", "/docs/..%2f..%2foutside.txt"]
)
def test_traversal(procs: list[Proc], tree: Path, target: str) -> None:
    _, port = start(procs, str(tree))
    status, body = raw_get(port, target)
    assert status in (403, 404)
    assert b"OUTSIDE" not in body


def _without_file_read_override() -> tuple[str, ...]:
    """A command prefix under which even root obeys file modes (no CAP_DAC_*)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is not installed")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search")


def test_unreadable_file_is_403(procs: list[Proc], tree: Path) -> None:
    locked = tree / "locked.txt"
    locked.write_text("locked")
    locked.chmod(0)
    if os.geteuid() == 0:
        os.chown(locked, 65534, 65534)
    _, port = start(procs, str(tree), prefix=_without_file_read_override())
    assert get(port, "/locked.txt") == (403, b"403 Forbidden\n")
    assert get(port, "/docs/guide.txt") == (200, b"guide")


def test_sigint_stops_gracefully(procs: list[Proc], tree: Path) -> None:
    proc, port = start(procs, str(tree))
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        proc.popen.send_signal(signal.SIGINT)
        assert proc.popen.wait(timeout=15) == 0
    assert "Bus EXITED" in proc.output()


def test_bad_directory_is_a_usage_error(procs: list[Proc], tmp_path: Path) -> None:
    proc = Proc("static", str(tmp_path / "missing"), "--bind", "127.0.0.1:0")
    procs.append(proc)
    assert proc.popen.wait(timeout=15) == 2
    proc.reader.join(timeout=5)
    assert "is not a directory" in proc.output()
