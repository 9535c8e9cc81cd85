"""Property-based raw requests (issue 17, item 9): pipelines of valid requests, with
random header order, name case and whitespace, bodies by Content-Length or chunked, and
at most one request the server must refuse, sent split at random byte boundaries.

Invariants, for every input:

- each valid request before the refused one gets exactly one response, in order, from
  the application (which saw the right body);
- the refused request gets at most one response, a 4xx (501 for a transfer coding we
  do not implement), then the connection closes with
  nothing more; the application never sees it or anything after it;
- the server itself never answers another 5xx;
- without a refused request the connection is still usable afterwards.

``HYPOTHESIS_EXAMPLES`` sets the number of inputs (default 100).
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawhttp import Client, Truncated

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import serve

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "100"))


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[str] = []

    @cherrypy.expose
    def r(self, rid: str, **_: Any) -> str:
        body = cherrypy.request.body.read() if cherrypy.request.method == "POST" else b""
        with self.lock:
            self.seen.append(rid)
        return f"{rid}:{len(body)}"


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Recorder, int]]:
    root = Recorder()
    with serve(root, thread_pool=2, socket_timeout=5) as server:
        yield root, server.port


_ids = itertools.count()


@dataclass
class Spec:
    #: The request's bytes, with ``{rid}`` where its unique id goes (assigned when the
    #: test runs: generated data must not depend on state outside hypothesis).
    data: bytes
    #: The request the server must refuse.
    refused: bool = False
    rid: str = ""


def _case(draw: Any, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(name, flips, strict=True))


_ows = st.sampled_from(["", " ", "  ", "\t", " \t"])


@st.composite
def valid_request(draw: Any) -> Spec:
    method = draw(st.sampled_from(["GET", "POST"]))
    body = draw(st.binary(max_size=300)) if method == "POST" else b""
    fields = [("Host", "test"), ("X-Noise", draw(st.text("abc-_ ;=", max_size=20)).strip())]
    fields += [("Accept", "text/plain")] * draw(st.integers(0, 2))
    fields += [("Cookie", "a=1")] * draw(st.integers(0, 2))
    chunked = method == "POST" and draw(st.booleans())
    if method == "POST":
        if chunked:
            fields.append(("Transfer-Encoding", "chunked"))
        else:
            fields.append(("Content-Length", str(len(body))))
    fields = draw(st.permutations(fields))
    head = f"{method} /r/{{rid}} HTTP/1.1\r\n"
    for name, value in fields:
        head += f"{_case(draw, name)}:{draw(_ows)}{value}{draw(_ows)}\r\n"
    data = head.encode("latin-1") + b"\r\n"
    if chunked:
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        for piece in pieces:
            if piece:
                data += b"%x\r\n%s\r\n" % (len(piece), piece)
        data += b"0\r\n\r\n"
    else:
        data += body
    return Spec(data)


REFUSED = [
    b"GET /r/{rid} HTTP/1.1\r\nHost: a b\r\n\r\n",
    b"GET /r/{rid} HTTP/1.1\r\nHost: u@h\r\n\r\n",
    b"GET /r/{rid} HTTP/1.1\r\n\r\n",
    b"GET /r/{rid} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"CONNECT r:{rid} HTTP/1.1\r\nHost: r\r\n\r\n",
    b"GET r:80 HTTP/1.1\r\nHost: r\r\n\r\n",
    b"POST /r/{rid} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    b"POST /r/{rid} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST /r/{rid} HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\nx",
    b"POST /r/{rid} HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
    b"GET  /r/{rid} HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /r/{rid} HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
]


@st.composite
def refused_request(draw: Any) -> Spec:
    return Spec(draw(st.sampled_from(REFUSED)), refused=True)


@st.composite
def pipeline(draw: Any) -> tuple[list[Spec], list[int]]:
    specs = draw(st.lists(valid_request(), min_size=0, max_size=4))
    if draw(st.booleans()) or not specs:
        # The refused request comes last: bytes after it would be unread when the
        # server closes, and the kernel would answer them with a reset.
        specs.append(draw(refused_request()))
    total = sum(len(s.data) for s in specs)
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, total - 1)), max_size=6))))
    return specs, cuts


RAN = {"inputs": 0}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=pipeline())
def test_pipelined_mutated_requests_keep_the_invariants(
    live: tuple[Recorder, int], case: tuple[list[Spec], list[int]]
) -> None:
    root, port = live
    specs, cuts = case
    RAN["inputs"] += 1
    for spec in specs:
        spec.rid = f"{'x' if spec.refused else 'v'}{next(_ids)}"
        spec.data = spec.data.replace(b"{rid}", spec.rid.encode())
    data = b"".join(s.data for s in specs)
    with Client(port, timeout=5) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
                c.send(data[a:b])
        except (BrokenPipeError, ConnectionResetError):
            assert specs[-1].refused, "the server closed on valid requests"
        for spec in specs:
            if not spec.refused:
                resp = c.response()
                assert resp.status == 200, resp
                body_len = _body_len(spec.data)
                assert resp.body == f"{spec.rid}:{body_len}".encode()
                continue
            try:
                resp = c.response()
            except Truncated as exc:
                # Closed (or reset) before a complete answer: allowed, nothing else is.
                assert exc.partial == b"" or exc.partial.startswith(
                    (b"HTTP/1.1 4", b"HTTP/1.1 501")
                )
            else:
                # 501 is the answer to a transfer coding we do not implement.
                assert 400 <= resp.status < 500 or resp.status == 501, resp
            assert c.closed()
        if not specs[-1].refused:
            c.send(b"GET /r/final HTTP/1.1\r\nHost: test\r\n\r\n")
            assert c.response().body == b"final:0"
    with root.lock:
        seen = set(root.seen)
    for spec in specs:
        assert (spec.rid in seen) is not spec.refused, spec


def _body_len(data: bytes) -> int:
    head, _, rest = data.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        total = 0
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                return total
            total += size
            rest = rest[size + 2 :]
    return len(rest)


def test_report_inputs_run() -> None:
    """Runs after the property test in file order: the count goes to the log."""
    print(f"request properties: {RAN['inputs']} inputs ran")
