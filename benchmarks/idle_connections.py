#!/usr/bin/env python3
"""Idle keep-alive connections: what holding N of them costs each server.

Each target starts on a free 127.0.0.1 port; N client connections each make one
keep-alive request and then stay open, idle. The script reports how many of the N were
served, the server's resident memory (process tree) before and after, and whether a new
client is still served promptly while the N stay open. Only 127.0.0.1 is contacted;
every loop is bounded in count and time.

    python benchmarks/idle_connections.py --conns 1000 --targets cherrypy_rs,cherrypy
"""

from __future__ import annotations

import argparse
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hello import (
    APPS_DIR,
    HOST,
    TARGETS,
    descendants,
    free_port,
    stop_process,
    wait_ready,
)


def tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and its descendants, in KiB."""
    total = 0
    for pid in [root, *descendants(root)]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def open_idle(port: int, count: int, deadline: float) -> tuple[list[socket.socket], int]:
    """Open ``count`` connections, send one keep-alive request on each, count answers."""
    request = f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    socks: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((HOST, port))
            s.sendall(request)
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    answered: set[int] = set()
    while len(answered) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 200"):
                answered.add(sock.fileno())
            sel.unregister(sock)
    sel.close()
    return socks, len(answered)


def fresh_request_ms(port: int) -> float | None:
    """Milliseconds for a new client to get an answer, or None if it did not."""
    start = time.monotonic()
    try:
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            if s.recv(16).startswith(b"HTTP/1.1 200"):
                return (time.monotonic() - start) * 1000
    except OSError:
        return None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--targets", default="cherrypy_rs,cherrypy,granian")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    rows = []
    for name in args.targets.split(","):
        target = TARGETS[name]
        port = free_port()
        proc = subprocess.Popen(
            target.command(port),
            cwd=APPS_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if wait_ready(proc, port, 15.0) is not None:
                rows.append((name, "failed to start", "", "", ""))
                continue
            time.sleep(0.5)
            before = tree_rss_kib(proc.pid)
            socks, served = open_idle(port, args.conns, time.monotonic() + args.timeout)
            time.sleep(0.5)
            after = tree_rss_kib(proc.pid)
            fresh = fresh_request_ms(port)
            for s in socks:
                s.close()
            rows.append(
                (
                    name,
                    f"{served}/{args.conns}",
                    f"{before / 1024:.1f}",
                    f"+{(after - before) / 1024:.1f}",
                    "no answer" if fresh is None else f"{fresh:.1f} ms",
                )
            )
        finally:
            stop_process(proc)
    header = ("target", "served", "RSS MiB", "idle cost MiB", "new client")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
