#!/usr/bin/env python3
"""Idle memory of one cherrypy_rs process, against bare Python: where it goes.

Starts each case with the interpreter running this script, lets it settle, makes one
request where there is a server (so that the lazily started parts exist), waits, and
reads ``/proc/PID/smaps_rollup``: resident memory, split into anonymous memory (heaps,
stacks) and file-backed pages (the interpreter, the extension module, shared
libraries), and the thread count. Only 127.0.0.1 is contacted; every wait is bounded.

    python benchmarks/idle_rss.py
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hello import APPS_DIR, HOST, free_port, stop_process


def rollup(pid: int) -> dict[str, int]:
    """smaps_rollup's fields in KiB, and the thread count."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0])
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            fields["Threads"] = int(line.split()[1])
    return fields


def fetch(port: int, path: str, timeout: float) -> bool:
    """One GET on a new connection, retried until it answers or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(request)
                if s.recv(16).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def measure(cmd: list[str], port: int | None, path: str, settle: float) -> dict[str, int] | None:
    proc = subprocess.Popen(cmd, cwd=APPS_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if port is not None and not fetch(port, path, 15.0):
            return None
        time.sleep(settle)
        return rollup(proc.pid)
    finally:
        stop_process(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before reading")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "a.txt").write_text("hello\n")
        p1, p2 = free_port(), free_port()
        cases: list[tuple[str, list[str], int | None, str]] = [
            ("bare Python", [py, "-c", "import time; time.sleep(60)"], None, "/"),
            (
                "Python + import cherrypy_rs",
                [py, "-c", "import cherrypy_rs, time; time.sleep(60)"],
                None,
                "/",
            ),
            (
                "cherrypy-rs static DIR",
                [py, "-m", "cherrypy_rs", "static", tmp, "--bind", f"{HOST}:{p1}"],
                p1,
                "/a.txt",
            ),
            (
                "hello app (hello_cherrypy_rs.py)",
                [py, str(APPS_DIR / "hello_cherrypy_rs.py"), str(p2)],
                p2,
                "/",
            ),
        ]
        rows = []
        base = None
        for name, cmd, port, path in cases:
            r = measure(cmd, port, path, args.settle)
            if r is None:
                rows.append((name, "failed to start", "", "", "", ""))
                continue
            base = base if base is not None else r["Rss"]
            rows.append(
                (
                    name,
                    f"{r['Rss'] / 1024:.1f}",
                    f"+{(r['Rss'] - base) / 1024:.1f}",
                    f"{r['Anonymous'] / 1024:.1f}",
                    f"{(r['Rss'] - r['Anonymous']) / 1024:.1f}",
                    str(r["Threads"]),
                )
            )
    header = ("process", "RSS MiB", "vs bare Python", "anon MiB", "file MiB", "threads")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
