"""Request bodies: read by Rust before the handler runs, large ones spooled to a
temporary file, never leaking a file descriptor."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import requests

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import serve

OCTETS = {"Content-Type": "application/octet-stream"}


class Root:
    @cherrypy.expose
    def digest(self) -> str:
        body = cherrypy.request.body
        data = body.read()
        return f"{len(data)} {hashlib.sha256(data).hexdigest()} {body.length}"

    @cherrypy.expose
    def lines(self) -> str:
        body = cherrypy.request.body
        first = body.readline()
        rest = body.readlines()
        return f"{first!r} {len(rest)} {len(body.fullvalue())}"


def expected(payload: bytes) -> bytes:
    return f"{len(payload)} {hashlib.sha256(payload).hexdigest()} {len(payload)}".encode()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_small_body_is_read_whole() -> None:
    with serve(Root()) as live:
        payload = b"x" * 1000
        assert live.request("POST", "/digest", body=payload, headers=OCTETS)[2] == expected(payload)


def test_large_body_is_spooled_and_intact() -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    with serve(Root()) as live:
        baseline = open_fds()
        for _ in range(3):
            status, _, body = live.request("POST", "/digest", body=payload, headers=OCTETS)
            assert (status, body) == (200, expected(payload))
        # Server-side sockets close just after the client's: poll, bounded.
        deadline = time.monotonic() + 5
        while open_fds() > baseline and time.monotonic() < deadline:
            time.sleep(0.01)
        assert open_fds() == baseline


def test_body_file_interface() -> None:
    payload = b"first line\n" + b"line\n" * 250000
    with serve(Root()) as live:
        status, _, body = live.request("POST", "/lines", body=payload, headers=OCTETS)
    assert status == 200
    assert body == f"b'first line\\n' 250000 {len(payload)}".encode()


class Uploads:
    @cherrypy.expose
    def upload(self, myFile: Any, note: str = "") -> str:
        data = myFile.file.read()
        return (
            f"{myFile.filename}|{myFile.content_type.value}|{len(data)}|"
            f"{hashlib.sha256(data).hexdigest()}|{note}"
        )

    @cherrypy.expose
    def many(self, f: Any) -> str:
        return ",".join(part.filename for part in f)


def test_multipart_upload_becomes_part_arguments() -> None:
    payload = os.urandom(200_000)
    with serve(Uploads()) as live:
        r = requests.post(
            live.url("/upload"),
            files={"myFile": ("photo.jpg", payload, "image/jpeg")},
            data={"note": "héllo"},
            timeout=10,
        )
        assert r.status_code == 200
        digest = hashlib.sha256(payload).hexdigest()
        assert r.text == f"photo.jpg|image/jpeg|{len(payload)}|{digest}|héllo"
        r = requests.post(
            live.url("/many"),
            files=[("f", ("a.txt", b"a", "text/plain")), ("f", ("b.txt", b"b", "text/plain"))],
            timeout=10,
        )
        assert r.text == "a.txt,b.txt"
