#!/usr/bin/env python3
"""Idle keep-alive connections: what holding N of them costs each server.

Each target starts on a free 127.0.0.1 port; N client connections each make one
keep-alive request (or, with ``--no-request``, only connect, and over TLS shake hands)
and then stay open, idle. The script reports how many of the N were served, how many
the server still keeps open once all are idle, the server's resident memory (process
tree) before and after, the cost per connection, and how long a new client waits for
an answer while the N stay open (over TLS, handshake included; the median of five).
Only 127.0.0.1 is contacted; every loop is bounded in count and time.

    python benchmarks/idle_connections.py --conns 10000 --targets cherrypy_rs,cherrypy
    python benchmarks/idle_connections.py --conns 10000 --tls --targets cherrypy_rs,granian

The cherrypy_rs target is the CherryPy-style hello app (``hello_cherrypy_rs:Root`` under
``cherrypy-rs run``) with ``server.socket_timeout`` raised to ``--socket-timeout`` so
that no connection reaches the idle timeout while the others are being opened; the
other servers keep their defaults (the "kept" column shows which connections they
closed).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import selectors
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_tls
from bench_hello import (
    APPS_DIR,
    HOST,
    TARGETS,
    descendants,
    free_port,
    stop_process,
    wait_ready,
)

#: How long every connection is left idle before the memory is read: longer than the
#: 0.1 s after which cherrypy_rs releases an idle connection's HTTP buffers.
SETTLE = 1.0

#: New clients timed while the N connections stay open.
FRESH_TRIES = 5


def tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and its descendants, in KiB."""
    total = 0
    # descendants() lists root itself first.
    for pid in descendants(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class Client:
    """How the script's sockets connect: plain TCP, or TLS trusting the run's CA."""

    def __init__(self, port: int, ctx: ssl.SSLContext | None) -> None:
        self.port = port
        self.ctx = ctx

    def connect(self, timeout: float) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=timeout)
        if self.ctx is None:
            return sock
        try:
            return self.ctx.wrap_socket(sock, server_hostname=HOST)
        except OSError:
            sock.close()
            raise


def open_idle(
    client: Client, count: int, deadline: float, request: bool, hold: bool = False
) -> tuple[list[socket.socket], int]:
    """Open ``count`` connections, send one keep-alive request on each (unless not
    ``request``), and count the answers. With ``hold``, each answered connection then
    sends the first line of a next request head and stops there: the server must keep
    that connection's HTTP state and buffers until the head completes."""
    head = f"GET / HTTP/1.1\r\nHost: {HOST}:{client.port}\r\n\r\n".encode()
    socks: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            s = client.connect(timeout=5)
            if request:
                s.sendall(head)
        except OSError:
            continue
        s.setblocking(False)
        socks.append(s)
        if request:
            sel.register(s, selectors.EVENT_READ)
    answered = 0
    pending = len(sel.get_map())
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 200"):
                answered += 1
                if hold:
                    with contextlib.suppress(OSError):
                        sock.sendall(b"GET / HTTP/1.1\r\n")
            sel.unregister(sock)
            pending -= 1
    sel.close()
    return socks, answered


def still_open(sock: socket.socket) -> bool:
    """Whether the server has kept ``sock`` open (nothing to read, no EOF)."""
    try:
        return sock.recv(1) != b""
    except (ssl.SSLWantReadError, BlockingIOError):
        return True
    except OSError:
        return False


def fresh_request_ms(client: Client) -> float | None:
    """Milliseconds for a new client (TLS handshake included) to get an answer."""
    start = time.monotonic()
    try:
        with client.connect(timeout=5) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            if s.recv(16).startswith(b"HTTP/1.1 200"):
                return (time.monotonic() - start) * 1000
    except OSError:
        return None
    return None


def cherrypy_rs_command(
    args: argparse.Namespace, workdir: Path, files: bench_tls.Files | None
) -> Callable[[int], list[str]]:
    """``cherrypy-rs run`` of the hello app with a long ``server.socket_timeout``."""
    config = workdir / "idle.conf"
    config.write_text(bench_tls.CONFIG + f"server.socket_timeout = {args.socket_timeout}\n")
    tls = ["--certfile", files.cert, "--keyfile", files.key] if files else []
    return lambda port: [
        sys.executable,
        "-m",
        "cherrypy_rs",
        "run",
        "hello_cherrypy_rs:Root",
        "--bind",
        f"{HOST}:{port}",
        "--config",
        str(config),
        *tls,
    ]


def commands(
    args: argparse.Namespace, workdir: Path, files: bench_tls.Files | None
) -> dict[str, Callable[[int], list[str]]]:
    """The command line of each target by name."""
    ours = cherrypy_rs_command(args, workdir, files)
    if files is None:
        return {**{name: t.command for name, t in TARGETS.items()}, "cherrypy_rs": ours}
    tls_files = files
    return {
        "cherrypy_rs": ours,
        **{
            name: (lambda port, t=t: t.command(port, tls_files))
            for name, t in bench_tls.TARGETS.items()
            if name.startswith("granian")
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--targets", default="cherrypy_rs,cherrypy,granian")
    parser.add_argument("--timeout", type=float, default=120.0, help="to open and serve all")
    parser.add_argument("--tls", action="store_true", help="HTTPS (HTTP/1.1 over TLS)")
    parser.add_argument("--no-request", action="store_true", help="connect (and shake hands) only")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after its answer, each connection sends half a request head (the server "
        "keeps its HTTP state and buffers: the cost of a connection that is not idle)",
    )
    parser.add_argument("--socket-timeout", type=float, default=300.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.conns + 64), hard))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = bench_tls.make_files(workdir) if args.tls else None
        ctx = None
        if files is not None:
            ctx = ssl.create_default_context(cafile=files.ca)
        table = commands(args, workdir, files)
        for name in args.targets.split(","):
            port = free_port()
            proc = subprocess.Popen(
                table[name](port),
                cwd=APPS_DIR,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client = Client(port, ctx)
            try:
                ready = (
                    bench_tls.wait_ready(proc, port, ctx, 15.0)
                    if ctx is not None
                    else wait_ready(proc, port, 15.0)
                )
                if ready is not None:
                    rows.append((name, "failed to start", "", "", "", "", ""))
                    continue
                time.sleep(0.5)
                before = tree_rss_kib(proc.pid)
                socks, served = open_idle(
                    client,
                    args.conns,
                    time.monotonic() + args.timeout,
                    not args.no_request,
                    args.hold,
                )
                time.sleep(SETTLE)
                after = tree_rss_kib(proc.pid)
                # The median of a few new clients (one can meet a busy moment of the
                # shared machine).
                tries = [fresh_request_ms(client) for _ in range(FRESH_TRIES)]
                answered_ms = sorted(t for t in tries if t is not None)
                fresh = answered_ms[len(answered_ms) // 2] if answered_ms else None
                kept = sum(still_open(s) for s in socks)
                for s in socks:
                    s.close()
                rows.append(
                    (
                        name,
                        "-" if args.no_request else f"{served}/{args.conns}",
                        f"{kept}/{args.conns}",
                        f"{before / 1024:.1f}",
                        f"+{(after - before) / 1024:.1f}",
                        f"{(after - before) / max(len(socks), 1):.2f}",
                        "no answer" if fresh is None else f"{fresh:.1f} ms",
                    )
                )
            finally:
                stop_process(proc)
    header = ("target", "served", "kept", "RSS MiB", "idle cost MiB", "KiB/conn", "new client")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
