"""Every example runs: each is imported (not as __main__) and its Root served."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from cherrypy_rs.testing import serve
from tests.test_cli import get

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name), run_name="example")


def test_every_example_says_how_to_run_it() -> None:
    for path in EXAMPLES.rglob("*.py"):
        assert "Run with:" in (path.read_text().split('"""')[1]), path.name


def test_hello() -> None:
    with serve(load("hello.py")["Root"]()) as live:
        assert live.get("/")[2] == b"Hello, world!"
        assert live.get("/greet/a/b")[2] == b"Hello a ('b',)"


def test_streaming() -> None:
    with serve(load("streaming.py")["Root"]()) as live:
        status, headers, body = live.get("/count?upto=3")
        assert status == 200
        assert headers["Transfer-Encoding"] == "chunked"
        assert body == b"0\n1\n2\n"


@pytest.mark.parametrize("note", ["first"])
def test_forms_and_errors(note: str) -> None:
    module = load("forms_and_errors.py")
    with serve(module["Root"]()) as live:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, headers, _ = live.request(
            "POST", "/add", body=f"note={note}".encode(), headers=form
        )
        assert status == 303
        assert headers["Location"] == f"{live.base}/"
        assert note.encode() in live.get("/")[2]
        assert live.request("POST", "/add", body=b"note=+", headers=form)[0] == 400
        assert live.get("/add?note=x")[0] == 405


def test_https(tls_files: Any) -> None:
    import httpx

    root = load("https.py")["Root"]()
    with serve(root, **tls_files.settings()) as live:
        with httpx.Client(verify=tls_files.client_context(), http2=True) as client:
            body = client.get(live.url("/")).text
    assert body.startswith("GET / HTTP/2.0 via https, TLSv1.3 TLS_")


def test_static_files() -> None:
    module = load("static_files.py")
    with serve(module["Root"](), "", module["CONFIG"]) as live:
        status, headers, body = live.get("/files/hello.py")
        assert status == 200 and b"Run with:" in body
        assert headers["Cache-Control"] == "max-age=60"
        assert live.get("/readme")[2] == body
        assert live.get("/files/hello.py", headers={"Range": "bytes=0-2"})[2] == b'"""'
        assert live.get("/source")[1]["Content-Type"].startswith("text/plain")
        assert live.get("/download")[1]["Content-Disposition"] == (
            'attachment; filename="hello.py"'
        )


def test_workers(procs: list[Any]) -> None:
    import cherrypy_rs

    module = load("workers.py")
    try:
        with serve(module["Root"]()) as live:
            assert live.get("/")[2].startswith(b"Hello from worker ")
    finally:
        cherrypy_rs.engine.ticker.unsubscribe()
    from tests.test_workers import Master

    proc = Master(
        "run", "workers:Root", "--chdir", str(EXAMPLES), "--bind", "127.0.0.1:0", "--workers", "2"
    )
    procs.append(proc)
    workers = proc.wait_serving(2)
    body = get(proc.port(), "/")[1].decode()
    assert int(body.split()[3]) in workers


def test_tut07_hit_counter_counts_per_session() -> None:
    from tests.test_sessions import Client

    module = runpy.run_path(str(EXAMPLES / "tutorial" / "tut07_sessions.py"), run_name="example")
    with serve(module["root"]()) as live:
        client = Client(live.port)
        try:
            for n in (1, 2, 3):
                assert f"this page {n} times".encode() in client.get("/")[1]
            other = Client(live.port)
            assert b"this page 1 times" in other.get("/")[1]
            other.close()
        finally:
            client.close()


def test_sessions_login() -> None:
    from tests.test_sessions import Client

    with serve(load("sessions_login.py")["root"]()) as live:
        client = Client(live.port)
        try:
            assert b"Please log in" in client.get("/")[1]
            cookie = client.set_cookie or ""
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
            before = client.sid
            assert b"Wrong" in client.post("/login", "username=alice&password=x")[1]
            assert client.post("/login", "username=alice&password=wonderland")[0] == 303
            assert client.sid != before
            assert b"Hello alice, visit 1." in client.get("/")[1]
            assert b"Please log in" in client.get("/", cookie=f"session_id={before}")[1]
            assert client.get("/logout")[0] == 405
            assert client.post("/logout", "")[0] == 303
            assert "session_id" not in client.cookies
            assert b"Please log in" in client.get("/")[1]
        finally:
            client.close()
