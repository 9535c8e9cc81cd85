"""Hostile multipart bodies against a server in its own process: the answer is a
clear 413/400 (or a 200 for a well-formed upload), the server's peak memory grows by
less than 16 MB, and no temporary file is left, open or on disk.

Memory is the server process's peak RSS (``VmHWM``, reset through
``/proc/PID/clear_refs`` before each request); CPU time is reported, not asserted.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent / "apps" / "bodies_app.py"
B = "b0undary"
MP = {"Content-Type": f"multipart/form-data; boundary={B}"}
MB = 1024 * 1024
CRLFS = b"\r\n" * (6 * MB)  # 12 MB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self.port = _free_port()
        env = dict(os.environ, TMPDIR=str(spool))
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, "the server exited at start"
            try:
                if self.request("GET", "/", b"", {})[0] == 200:
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def status(self, key: str) -> int:
        """A /proc/PID/status figure in bytes (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_spool_files(self) -> list[str]:
        found = []
        fd_dir = f"/proc/{self.proc.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith(str(self.spool)):
                found.append(target)
        return found

    def measure(self, body: bytes) -> tuple[int, bytes, int, float]:
        """POST body to /upload: (status, body, peak RSS growth, CPU seconds)."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # reset VmHWM
        before = self.status("VmRSS")
        cpu = self.cpu_seconds()
        status, data = self.request("POST", "/upload", body, MP)
        return status, data, self.status("VmHWM") - before, self.cpu_seconds() - cpu

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("spool"))
    try:
        # Warm up: the code paths of a multipart upload, and the spooled-body path.
        warm = (
            f'--{B}\r\nContent-Disposition: form-data; name="f"; filename="w"\r\n\r\n'.encode()
            + b"w" * (2 * MB)
            + f"\r\n--{B}--\r\n".encode()
        )
        assert proc.request("POST", "/upload", warm, MP)[0] == 200
        yield proc
    finally:
        proc.stop()


def _head(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{B}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


CLOSE = f"\r\n--{B}--\r\n".encode()

CASES = {
    # 100,000 tiny parts: refused at request.body.max_parts (1000).
    "100k_tiny_parts": (
        b"".join(_head("a") + b"x\r\n" for _ in range(100_000)) + f"--{B}--\r\n".encode(),
        413,
        b"request.body.max_parts (1000)",
    ),
    # One 12 MB text field of CRLFs: refused at request.body.max_field_size (1 MiB).
    "12mb_crlf_field": (_head("a") + CRLFS + CLOSE, 413, b"request.body.max_field_size"),
    # The same as a file upload: streamed to a temporary file, accepted.
    "12mb_crlf_file": (_head("a", "crlf.bin") + CRLFS + CLOSE, 200, b'{"a": 12582912}'),
    # ... without its closing boundary: malformed.
    "12mb_crlf_file_unclosed": (_head("a", "crlf.bin") + CRLFS, 400, b"closing boundary"),
    # 12 MB of CRLFs and no boundary at all.
    "12mb_crlf_no_boundary": (CRLFS, 400, b"closing boundary"),
    # A part whose header block never ends.
    "12mb_part_header": (
        f"--{B}\r\nX-Long: ".encode() + b"h" * (12 * MB),
        413,
        b"request.body.max_part_header_size",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_multipart_is_bounded(server: ServerProcess, case: str) -> None:
    body, expected_status, expected_text = CASES[case]
    status, data, growth, cpu = server.measure(body)
    print(
        f"\n{case}: {len(body) / MB:.1f} MB body -> {status}; "
        f"peak RSS growth {growth / MB:.1f} MB; server CPU {cpu:.2f} s"
    )
    assert status == expected_status, data[:300]
    assert expected_text in data
    assert growth < 16 * MB
    assert os.listdir(server.spool) == []
    # Python closes part files and its copy of a spooled body before answering; the
    # Rust worker drops its own handle on a spooled body just after: poll, bounded.
    deadline = time.monotonic() + 5
    while server.open_spool_files() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.open_spool_files() == []
