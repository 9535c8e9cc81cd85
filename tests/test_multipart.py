"""Request body processing (``cherrypy._cpreqbody``) through a real socket: multipart
parts streamed to temporary files, the limits (413), malformed bodies (400),
replaceable processors, and temporary files closed on every path."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs import _cpreqbody, bodies
from cherrypy_rs.testing import LiveServer, serve

B = "BoUnDaRy"
MP = {"Content-Type": f"multipart/form-data; boundary={B}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def field(name: str, value: bytes) -> bytes:
    return (
        f'--{B}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    )


def upload(name: str, filename: str, value: bytes, ctype: str = "text/plain") -> bytes:
    head = (
        f'--{B}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {ctype}\r\n\r\n"
    )
    return head.encode() + value + b"\r\n"


CLOSE = f"--{B}--\r\n".encode()


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh temporary directory for part files (tempfile) and spooled bodies (Rust)."""
    directory = tmp_path / "spool"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    monkeypatch.setenv("TMPDIR", str(directory))
    yield directory


def files_open_in(directory: Path, pid: int | str = "self") -> list[str]:
    """This process's open files under ``directory`` (deleted ones included)."""
    found = []
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def assert_nothing_left(directory: Path) -> None:
    assert os.listdir(directory) == []
    assert files_open_in(directory) == []


class PartSubclass(_cpreqbody.Part):
    """A part_class that counts the lines of text/csv parts with readline()."""

    maxrambytes = 10

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.processors = {"text/csv": self.count_lines}

    @staticmethod
    def count_lines(part: Any) -> None:
        lines = 0
        while part.readline():
            lines += 1
        part.value = str(lines).encode()


def json_processor(entity: Any) -> None:
    cherrypy.request.json = json.loads(entity.fp.read())


class Root:
    @cherrypy.expose
    def fields(self, **kwargs: Any) -> str:
        out = {}
        for key, value in kwargs.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    out.setdefault(key, []).append(item)
                    continue
                fd = item.file.fileno()
                data = item.file.read()
                out.setdefault(key, []).append(
                    {
                        "filename": item.filename,
                        "size": len(data),
                        "sha": hashlib.sha256(data).hexdigest(),
                        # Where the part was spooled: a temporary file without a name.
                        "file": os.readlink(f"/proc/self/fd/{fd}"),
                    }
                )
        return json.dumps(out)

    @cherrypy.expose
    def boom(self, **kwargs: Any) -> str:
        raise ValueError("the handler failed after the upload")

    @cherrypy.expose
    def manual(self) -> str:
        body = cherrypy.request.body
        body.processors["application/json"] = json_processor
        body.process()
        return repr(cherrypy.request.json)

    manual._cp_config = {"request.process_request_body": False}

    @cherrypy.expose
    def configured(self, **kwargs: Any) -> str:
        return repr(getattr(cherrypy.request, "json", None))

    configured._cp_config = {
        "request.body.processors": {"application/json": json_processor},
        "request.body.default_proc": cherrypy.HTTPError(415, "JSON only"),
    }

    @cherrypy.expose
    def custom_parts(self, **kwargs: Any) -> str:
        parts = {
            k: (v.value if isinstance(v, _cpreqbody.Part) and v.value is not None else repr(v))
            for k, v in kwargs.items()
        }
        return repr(sorted(parts.items()))

    custom_parts._cp_config = {"request.body.part_class": PartSubclass}

    @cherrypy.expose
    def limited(self, **kwargs: Any) -> str:
        return ",".join(sorted(kwargs))

    limited._cp_config = {
        "request.body.max_parts": 3,
        "request.body.max_part_header_size": 200,
        "request.body.max_field_size": 1000,
        "request.body.maxbytes": 5000,
    }


@pytest.fixture
def live(spool: Path) -> Iterator[LiveServer]:
    with serve(Root()) as server:
        yield server


def post(live: LiveServer, path: str, body: bytes, headers: dict[str, str] = MP) -> Any:
    status, _, data = live.request("POST", path, body=body, headers=headers)
    return status, data


def test_fields_and_files(live: LiveServer, spool: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 5)  # spooled by Rust, then parsed streaming
    body = (
        field("note", "héllo".encode())
        + upload("f", "a.bin", payload, "application/octet-stream")
        + upload("f", "b.txt", b"\r\n--BoUnDaRyX\r\n\r\n")
        + field("note", b"two")
        + CLOSE
    )
    status, data = post(live, "/fields", body)
    assert status == 200, data
    got = json.loads(data)
    assert got["note"] == ["héllo", "two"]
    a, b = got["f"]
    assert (a["filename"], a["size"], a["sha"]) == (
        "a.bin",
        len(payload),
        hashlib.sha256(payload).hexdigest(),
    )
    assert (b["filename"], b["size"]) == ("b.txt", 17)
    # Each file part went to its own temporary file in the temporary directory, with no
    # name there; all are closed once the response is sent.
    for part in (a, b):
        assert part["file"].startswith(str(spool)) and part["file"].endswith("(deleted)")
    assert_nothing_left(spool)


def test_handler_exception_closes_part_files(live: LiveServer, spool: Path) -> None:
    body = upload("f", "a.bin", os.urandom(200_000)) + CLOSE
    status, data = post(live, "/boom", body)
    assert status == 500
    assert b"the handler failed after the upload" in data
    assert_nothing_left(spool)


MALFORMED = {
    "no closing boundary": upload("f", "a.bin", b"x" * 100_000),
    "headers not terminated": upload("f", "a.bin", b"data") + f"--{B}\r\nX-A: 1\r\n".encode(),
    "bad part header": upload("f", "a.bin", b"data") + f"--{B}\r\nno colon\r\n\r\n".encode(),
    "no boundary at all": b"just some text\r\n" * 100,
    "boundary not followed by CRLF": upload("f", "a.bin", b"data") + f"--{B}x".encode(),
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_multipart_is_400_and_leaves_nothing(
    live: LiveServer, spool: Path, body: bytes
) -> None:
    status, data = post(live, "/fields", body)
    assert status == 400, data
    assert b"Malformed multipart body" in data
    assert_nothing_left(spool)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        f"multipart/form-data; boundary={'x' * 300}",
    ],
)
def test_invalid_boundary_is_400(live: LiveServer, content_type: str) -> None:
    status, data = post(live, "/fields", field("a", b"1") + CLOSE, {"Content-Type": content_type})
    assert status == 400
    assert b"Invalid boundary in multipart form" in data


def test_limits_from_config(live: LiveServer, spool: Path) -> None:
    ok = field("a", b"1") + field("b", b"2") + upload("c", "c.txt", b"3") + CLOSE
    assert post(live, "/limited", ok) == (200, b"a,b,c")

    too_many = field("a", b"1") + field("b", b"2") + field("c", b"3") + field("d", b"4") + CLOSE
    status, data = post(live, "/limited", too_many)
    assert status == 413 and b"request.body.max_parts (3)" in data

    big_header = (
        f'--{B}\r\nContent-Disposition: form-data; name="a"\r\nX-Pad: {"p" * 300}\r\n\r\n1\r\n'
    )
    status, data = post(live, "/limited", big_header.encode() + CLOSE)
    assert status == 413 and b"request.body.max_part_header_size (200 bytes)" in data

    status, data = post(live, "/limited", field("a", b"x" * 1001) + CLOSE)
    assert status == 413 and b"request.body.max_field_size (1000 bytes)" in data
    # The field limit is for text kept in memory: a file of the same size is fine.
    assert post(live, "/limited", upload("a", "a.txt", b"x" * 1001) + CLOSE) == (200, b"a")

    status, data = post(live, "/limited", upload("a", "a.txt", b"x" * 5000) + CLOSE)
    assert status == 413 and b"request.body.maxbytes (5000)" in data
    assert_nothing_left(spool)


def test_maxbytes_with_chunked_body(live: LiveServer) -> None:
    body = upload("a", "a.txt", b"x" * 6000) + CLOSE
    head = (
        f"POST /limited HTTP/1.1\r\nHost: x\r\nContent-Type: {MP['Content-Type']}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    with socket.create_connection((live.host, live.port), timeout=10) as sock:
        sock.sendall(head + chunked)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b"request.body.maxbytes (5000)" in response


def test_default_part_limit(live: LiveServer) -> None:
    body = b"".join(field("a", b"1") for _ in range(_cpreqbody.RequestBody.max_parts + 1))
    status, data = post(live, "/fields", body + CLOSE)
    assert status == 413 and b"request.body.max_parts (1000)" in data


def test_processor_replaced_in_the_handler(live: LiveServer) -> None:
    status, data = post(live, "/manual", b'{"a": [1, 2]}', {"Content-Type": "application/json"})
    assert (status, data) == (200, b"{'a': [1, 2]}")


def test_processors_and_default_proc_from_config(live: LiveServer) -> None:
    status, data = post(live, "/configured", b'{"a": 1}', {"Content-Type": "application/json"})
    assert (status, data) == (200, b"{'a': 1}")
    # The config's processors replace the defaults: a form is no longer parsed, and
    # default_proc (an HTTPError instance) raises itself.
    status, data = post(live, "/configured", b"a=1", FORM)
    assert status == 415 and b"JSON only" in data


@pytest.mark.parametrize("block", [1, 5, 65536])
def test_part_class_from_config(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(bodies, "MULTIPART_BLOCK", block)
    body = (
        upload("csv", "t.csv", b"a,b\r\nc,d\nlast", "text/csv")
        + field("small", b"0123456789")
        + field("big", b"0123456789x")
        + CLOSE
    )
    status, data = post(live, "/custom_parts", body)
    assert status == 200
    # text/csv parts are counted by the subclass's processor (3 lines, via readline);
    # maxrambytes = 10 sends the 11-byte field through a file (still decoded to text).
    assert data == b"[('big', \"'0123456789x'\"), ('csv', b'3'), ('small', \"'0123456789'\")]"


def test_undecodable_form_is_400(live: LiveServer) -> None:
    status, data = post(live, "/fields", b"a=%FF%FE", FORM)
    assert status == 400
    assert b"The following charsets were attempted: ['utf-8']" in data


def test_body_method_without_length_is_411(live: LiveServer) -> None:
    with socket.create_connection((live.host, live.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /fields HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Connection: close\r\n\r\n"
        )
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 411 Length Required")


TRICKY = [
    b"",
    b"\r\n",
    b"\r\n\r\n",
    b"--" + B.encode(),
    b"\r\n--" + B.encode() + b"X",
    b"a\r\n--" + B[:-1].encode() + b"\r\n--" + B.encode() + b"-x",
    b"\r\r\n\n-" * 5 + b"\r\n--" + B.encode() + b" x\r\n",
    bytes(range(256)) * 3,
]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 65536])
def test_parts_split_across_reads(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Every byte position of a boundary or a near miss falls on a read boundary for
    some block size: the parts come out the same."""
    monkeypatch.setattr(bodies, "MULTIPART_BLOCK", block)
    body = b"preamble --" + B.encode() + b"\r\n"
    for i, content in enumerate(TRICKY):
        body += upload(f"f{i}", f"{i}.bin", content)
    body = body.replace(f"--{B}\r\n".encode(), f"--{B} \t \r\n".encode(), 1)  # padding
    body += f"--{B}--  \r\nepilogue --{B}\r\n".encode()
    status, data = post(live, "/fields", body)
    assert status == 200, data
    got = json.loads(data)
    assert sorted(got) == [f"f{i}" for i in range(len(TRICKY))]
    for i, content in enumerate(TRICKY):
        (part,) = got[f"f{i}"]
        assert (part["size"], part["sha"]) == (len(content), hashlib.sha256(content).hexdigest())


def test_readline_over_many_short_lines(live: LiveServer) -> None:
    """readline() in a part processor costs per line, not per buffered block: 400,000
    lines of a 800 KB part are counted (a quadratic reader would not finish)."""
    body = upload("csv", "t.csv", b"\r\n" * 400_000, "text/csv") + CLOSE
    status, data = post(live, "/custom_parts", body)
    assert (status, data) == (200, b"[('csv', b'400000')]")
