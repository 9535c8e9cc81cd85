"""The built-in tools through a real socket: encode/decode, gzip, json, etags,
caching and expires, the cptools, xmlrpc and cpstats, with error responses, HEAD and
streamed bodies. (``test_tools_compat.py`` compares the same tools with CherryPy.)"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
from rawhttp import Client

import cherrypy_rs as cherrypy
from cherrypy_rs.bodies import RequestBody
from cherrypy_rs.lib import caching, cpstats, encoding, gctools, httputil, profiler
from cherrypy_rs.lib.xmlrpcutil import XMLRPCController
from cherrypy_rs.testing import serve

NEEDS_PROCESSORS = pytest.mark.skipif(
    not hasattr(RequestBody, "processors"),
    reason="request.body.processors is not on this branch yet (bodies.py)",
)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    yield
    if hasattr(cherrypy, "_cache"):
        del cherrypy._cache


def raw(port: int, request: str, method: str = "GET") -> Any:
    with Client(port) as client:
        client.send(request.encode("latin-1"))
        return client.response(method)


# ------------------------------------------------------------------ encode / decode


class EncodeRoot:
    @cherrypy.expose
    def text(self) -> str:
        return "caf\u00e9"

    @cherrypy.expose
    def snowman(self) -> str:
        return "\u2603"

    @cherrypy.expose
    def stream(self) -> Iterator[str]:
        yield "caf"
        yield "\u00e9"

    stream._cp_config = {"response.stream": True}

    @cherrypy.expose
    def form(self, name: str = "") -> str:
        return f"{name}|{cherrypy.request.body.charset}"

    @cherrypy.expose
    def plain_bytes(self) -> bytes:
        cherrypy.response.headers["Content-Type"] = "application/octet-stream"
        return b"\x00\x01"


def test_encode_negotiates_accept_charset_on_the_fast_path_and_as_a_hook() -> None:
    noop = cherrypy.Tool("on_start_resource", lambda: None, name="noop_enc")
    cherrypy.tools.noop_enc = noop
    try:
        for config in ({}, {"/": {"tools.noop_enc.on": True}}):
            with serve(EncodeRoot(), "", config) as live:
                status, headers, body = live.get("/text")
                assert (status, headers["Content-Type"], body) == (
                    200,
                    "text/html;charset=utf-8",
                    "caf\u00e9".encode(),
                )
                status, headers, body = live.get("/text", headers={"Accept-Charset": "iso-8859-1"})
                assert (headers["Content-Type"], body) == (
                    "text/html;charset=iso-8859-1",
                    b"caf\xe9",
                )
                # The snowman is not in latin-1: 406 naming what was tried.
                status, _, body = live.get("/snowman", headers={"Accept-Charset": "iso-8859-1"})
                assert status == 406
                assert b"We tried these charsets: iso-8859-1." in body
                status, headers, body = live.get("/stream", headers={"Accept-Charset": "utf-8"})
                assert (status, body) == (200, "caf\u00e9".encode())
                assert headers["Transfer-Encoding"] == "chunked"
                status, headers, body = live.request("HEAD", "/text")
                assert (status, headers["Content-Type"], body) == (
                    200,
                    "text/html;charset=utf-8",
                    b"",
                )
                # Not text: left alone.
                status, headers, body = live.get("/plain_bytes")
                assert (headers["Content-Type"], body) == ("application/octet-stream", b"\x00\x01")
    finally:
        del cherrypy.tools.noop_enc


def test_encode_configured_encoding_and_add_charset() -> None:
    config = {
        "/": {"tools.encode.encoding": "iso-8859-1"},
        "/snowman": {"tools.encode.add_charset": False},
    }
    with serve(EncodeRoot(), "", config) as live:
        status, headers, body = live.get("/text")
        assert (status, headers["Content-Type"], body) == (
            200,
            "text/html;charset=iso-8859-1",
            b"caf\xe9",
        )
        # Configured charset refused by the client: 406.
        assert live.get("/text", headers={"Accept-Charset": "utf-8"})[0] == 406
        # add_charset off: no charset, and a str body is an error as in CherryPy.
        assert live.get("/snowman")[0] == 500


def test_decode_tool_sets_the_request_charsets() -> None:
    config = {"/form": {"tools.decode.on": True, "tools.decode.encoding": "iso-8859-1"}}
    with serve(EncodeRoot(), "", config) as live:
        status, _, body = live.request(
            "POST",
            "/form",
            body=b"name=caf%E9",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert (status, body.decode()) == (200, "caf\u00e9|iso-8859-1")


def test_accept_charset_with_absurd_values_is_answered() -> None:
    many = ", ".join(f"x-charset-{i};q=0.{i % 10}" for i in range(1000))
    with serve(EncodeRoot()) as live:
        status, headers, _ = live.get("/text", headers={"Accept-Charset": many + ", utf-8"})
        assert (status, headers["Content-Type"]) == (200, "text/html;charset=utf-8")
        status, _, body = live.get("/text", headers={"Accept-Charset": "utf-8;q=abc"})
        assert status == 400 and b"Malformed HTTP header" in body
        status, headers, _ = live.get("/text", headers={"Accept-Charset": "utf-8;q=1e308, *;q=nan"})
        assert (status, headers["Content-Type"]) == (200, "text/html;charset=utf-8")


# ------------------------------------------------------------------ gzip

PAGE = ("<p>" + "hello gzip " * 2000 + "</p>").encode()


class GzipRoot:
    _cp_config = {"tools.gzip.on": True}

    @cherrypy.expose
    def index(self) -> bytes:
        return PAGE

    @cherrypy.expose
    def stream(self) -> Iterator[bytes]:
        for _ in range(4):
            yield PAGE[:5000]

    stream._cp_config = {"response.stream": True}

    @cherrypy.expose
    def svg(self) -> bytes:
        cherrypy.response.headers["Content-Type"] = "image/svg+xml"
        return b"<svg/>" * 100

    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("broken")


def test_gzip_compresses_streams_and_marks_vary() -> None:
    config = {"/svg": {"tools.gzip.mime_types": ["text/*", "image/*+xml"]}}
    with serve(GzipRoot(), "", config) as live:
        status, headers, body = live.get("/", headers={"Accept-Encoding": "gzip"})
        assert (status, headers["Content-Encoding"], headers["Vary"]) == (
            200,
            "gzip",
            "Accept-Encoding",
        )
        assert gzip.decompress(body) == PAGE and len(body) < len(PAGE) // 10
        assert int(headers["Content-Length"]) == len(body)
        status, headers, body = live.get("/")
        assert (headers["Content-Encoding"], headers["Vary"], body) == (
            None,
            "Accept-Encoding",
            PAGE,
        )
        assert live.get("/", headers={"Accept-Encoding": "gzip;q=0"})[2] == PAGE
        assert live.get("/", headers={"Accept-Encoding": "identity;q=0.5, gzip;q=0.4"})[2] == PAGE
        assert live.get("/", headers={"Accept-Encoding": "br"})[0] == 406
        status, headers, body = live.get("/svg", headers={"Accept-Encoding": "gzip"})
        assert (headers["Content-Encoding"], gzip.decompress(body)) == ("gzip", b"<svg/>" * 100)
        # Streamed: compressed chunk by chunk, sent chunked.
        resp = raw(
            live.port,
            "GET /stream HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
        )
        assert resp.header("Transfer-Encoding") == "chunked"
        assert resp.header("Content-Encoding") == "gzip"
        assert gzip.decompress(resp.body) == PAGE[:5000] * 4
        # HEAD: the headers of the GET, no body.
        status, headers, body = live.request("HEAD", "/", headers={"Accept-Encoding": "gzip"})
        assert (status, headers["Content-Encoding"], body) == (200, "gzip", b"")
        # An error page is compressed too (before_finalize runs for it), as in CherryPy.
        status, headers, body = live.get("/nope", headers={"Accept-Encoding": "gzip"})
        assert (status, headers["Content-Encoding"]) == (404, "gzip")
        assert b"404 Not Found" in gzip.decompress(body)
        # The 500 page (error_response) is not: before_finalize does not run for it.
        status, headers, body = live.get("/boom", headers={"Accept-Encoding": "gzip"})
        assert (status, headers["Content-Encoding"]) == (500, None)


def test_gzip_with_a_thousand_codings_is_bounded() -> None:
    codings = ", ".join(f"c{i};q=0.{i % 9 + 1}" for i in range(1000))
    with serve(GzipRoot()) as live:
        started = time.monotonic()
        status, headers, body = live.get("/", headers={"Accept-Encoding": codings + ", gzip"})
        took = time.monotonic() - started
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert gzip.decompress(body) == PAGE
    assert took < 30  # a sanity bound, not a performance assertion


def test_compress_and_decompress_round_trip() -> None:
    data = b"abc" * 10000
    packed = b"".join(encoding.compress(iter([data[:100], data[100:]]), 9))
    assert encoding.decompress(packed) == data == gzip.decompress(packed)


# ------------------------------------------------------------------ json


class JsonRoot:
    @cherrypy.expose
    @cherrypy.tools.json_out()
    def out(self, n: str = "1") -> Any:
        return {"n": int(n), "s": "\u00e9"}

    @cherrypy.expose
    @cherrypy.tools.json_out(handler=lambda *a, **k: b"custom")
    def custom(self) -> Any:
        return {"ignored": True}

    @cherrypy.expose
    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def echo(self) -> Any:
        return {"json": getattr(cherrypy.request, "json", "unset")}

    @cherrypy.expose
    @cherrypy.tools.json_in(force=False)
    def lenient(self, **kwargs: Any) -> str:
        return repr(sorted(kwargs))


def test_json_out() -> None:
    with serve(JsonRoot()) as live:
        status, headers, body = live.get("/out?n=4")
        assert (status, headers["Content-Type"], json.loads(body)) == (
            200,
            "application/json",
            {"n": 4, "s": "\u00e9"},
        )
        assert body == b'{"n": 4, "s": "\\u00e9"}'
        assert live.get("/custom")[2] == b"custom"
        status, headers, body = live.request("HEAD", "/out")
        assert (status, headers["Content-Type"], body) == (200, "application/json", b"")
        # A handler error is an HTML error page, not JSON.
        status, headers, _ = live.get("/out?n=x")
        assert (status, headers["Content-Type"]) == (500, "text/html;charset=utf-8")


@NEEDS_PROCESSORS
def test_json_in() -> None:
    with serve(JsonRoot()) as live:
        post = {"Content-Type": "application/json"}
        status, _, body = live.request("POST", "/echo", body=b'{"a": [1]}', headers=post)
        assert (status, json.loads(body)) == (200, {"json": {"a": [1]}})
        status, _, body = live.request("POST", "/echo", body=b"{bad", headers=post)
        assert status == 400 and b"Invalid JSON document" in body
        status, _, body = live.request(
            "POST", "/echo", body=b"a=1", headers={"Content-Type": "text/plain"}
        )
        assert status == 415 and b"application/json, text/javascript" in body
        # No Content-Length (chunked): 411.
        resp = raw(
            live.port,
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        )
        assert resp.status == 411
        # A GET has no entity: request.json stays unset.
        assert json.loads(live.get("/echo")[2]) == {"json": "unset"}
        # force=False: a form is still a form.
        status, _, body = live.request(
            "POST",
            "/lenient",
            body=b"x=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert body == b"['x']"


# ------------------------------------------------------------------ etags, expires, cptools


class CpRoot:
    @cherrypy.expose
    @cherrypy.tools.etags(autotags=True)
    def tagged(self) -> str:
        return "body"

    @cherrypy.expose
    @cherrypy.tools.etags()
    def manual(self) -> str:
        cherrypy.response.headers["ETag"] = '"v1"'
        return "manual"

    @cherrypy.expose
    @cherrypy.tools.expires(secs=3600)
    def cacheable(self) -> str:
        cherrypy.response.headers["Last-Modified"] = "Wed, 01 Jan 2020 00:00:00 GMT"
        return "c"

    @cherrypy.expose
    @cherrypy.tools.allow(methods="PUT")
    def put_only(self) -> str:
        return "put"

    @cherrypy.expose
    @cherrypy.tools.ignore_headers(headers=["X-Secret"])
    def ignored(self) -> str:
        return repr(cherrypy.request.headers.get("X-Secret"))

    @cherrypy.expose
    @cherrypy.tools.params()
    def typed(self, n: int, flag: bool = False) -> str:
        return repr((n, flag))

    @cherrypy.expose
    @cherrypy.tools.redirect(url="/tagged")
    def internal(self) -> str:
        return "never"

    @cherrypy.expose
    def boom(self) -> str:
        raise RuntimeError("fails")

    boom._cp_config = {"tools.err_redirect.on": True, "tools.err_redirect.url": "/tagged"}

    @cherrypy.expose
    @cherrypy.tools.log_hooks()
    def hooked(self) -> str:
        return "hooked"

    @cherrypy.expose
    @cherrypy.tools.autovary()
    def vary(self) -> str:
        cherrypy.request.headers.get("X-Thing")
        return "v"


def test_etags_and_validators() -> None:
    with serve(CpRoot()) as live:
        status, headers, body = live.get("/tagged")
        etag = headers["ETag"]
        assert (status, body) == (200, b"body") and etag.startswith('"')
        status, headers, body = live.get("/tagged", headers={"If-None-Match": etag})
        assert (status, body, headers["ETag"]) == (304, b"", etag)
        assert live.get("/tagged", headers={"If-None-Match": "*"})[0] == 304
        assert live.request("POST", "/tagged", headers={"If-None-Match": etag})[0] == 412
        assert live.get("/tagged", headers={"If-Match": '"other"'})[0] == 412
        assert live.get("/tagged", headers={"If-Match": etag})[0] == 200
        assert live.request("HEAD", "/tagged", headers={"If-None-Match": etag})[0] == 304
        assert live.get("/manual", headers={"If-None-Match": '"v0", "v1"'})[0] == 304
        # An error page is not validated.
        assert live.get("/nope", headers={"If-None-Match": "*"})[0] == 404


def test_expires_allow_ignore_params_redirects() -> None:
    with serve(CpRoot()) as live:
        headers = live.get("/cacheable")[1]
        assert headers["Expires"] and headers["Cache-Control"] is None
        status, headers, _ = live.get("/put_only")
        assert (status, headers["Allow"]) == (405, "PUT")
        assert live.request("PUT", "/put_only", body=b"")[0] == 200
        assert live.get("/ignored", headers={"X-Secret": "s"})[2] == b"None"
        assert live.get("/typed?n=5&flag=1")[2] == b"(5, True)"
        status, _, body = live.get("/typed?n=five")
        assert status == 400 and b"invalid literal for int()" in body
        assert live.get("/internal")[2] == b"body"
        assert live.get("/boom")[2] == b"body"
        # tools.encode looks at Accept-Charset, so it is in Vary too (as in CherryPy).
        vary = live.get("/vary", headers={"X-Thing": "1"})[1]["Vary"]
        assert vary == "Accept-Charset, X-Thing"


def test_log_hooks_writes_the_hooks(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO), serve(CpRoot()) as live:
        assert live.get("/hooked")[2] == b"hooked"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Request Hooks for" in logged and "log_hooks" in logged


def test_flatten_and_response_headers() -> None:
    class Root:
        @cherrypy.expose
        @cherrypy.tools.flatten()
        @cherrypy.tools.response_headers(headers=[("X-A", "1")])
        def index(self) -> Any:
            def inner() -> Iterator[bytes]:
                yield b"2"
                yield (b for b in (b"3",))

            return iter([b"1", inner(), b"4"])

        @cherrypy.expose
        @cherrypy.tools.response_headers(headers=[("X-A", "1")])
        def missing(self) -> str:
            raise cherrypy.NotFound()

    with serve(Root()) as live:
        status, headers, body = live.get("/")
        assert (status, headers["X-A"], body) == (200, "1", b"1234")
        status, headers, _ = live.get("/missing")
        assert (status, headers["X-A"]) == (404, "1")


def test_accept_elements_sort_like_cherrypy() -> None:
    elements = httputil.header_elements("Accept", "text/*;q=0.5, text/html, */*;q=0.1")
    assert [e.value for e in elements] == ["text/html", "text/*", "*/*"]
    assert [e.qvalue for e in elements] == [1.0, 0.5, 0.1]  # type: ignore[attr-defined]


# ------------------------------------------------------------------ caching

CALLS: list[str] = []


class CacheRoot:
    _cp_config = {"tools.caching.on": True, "tools.caching.delay": 60}

    @cherrypy.expose
    def index(self, n: str = "") -> str:
        CALLS.append(n)
        return f"computed {len(CALLS)}"

    @cherrypy.expose
    def varied(self) -> str:
        CALLS.append("v")
        cherrypy.response.headers["Vary"] = "Accept-Language"
        return f"lang {cherrypy.request.headers.get('Accept-Language')}"

    @cherrypy.expose
    def dated(self) -> str:
        cherrypy.response.headers["Last-Modified"] = "Wed, 01 Jan 2020 00:00:00 GMT"
        return "dated"

    @cherrypy.expose
    def stream(self) -> Iterator[bytes]:
        CALLS.append("s")
        yield b"a"
        yield b"b"

    stream._cp_config = {"response.stream": True}


def test_caching_serves_stored_responses() -> None:
    CALLS.clear()
    with serve(CacheRoot()) as live:
        assert live.get("/")[2] == b"computed 1"
        status, headers, body = live.get("/")
        assert (status, body) == (200, b"computed 1")
        assert headers["Age"] is not None
        assert live.get("/", headers={"Cache-Control": "no-cache"})[2] == b"computed 2"
        assert live.get("/?n=1")[2] == b"computed 3"
        # A POST empties the URL's entry.
        assert live.request("POST", "/", body=b"")[2] == b"computed 4"
        assert live.get("/")[2] == b"computed 5"
        assert live.get("/", headers={"Cache-Control": "max-age=x"})[0] == 400
        # Vary: one variant per Accept-Language.
        assert live.get("/varied", headers={"Accept-Language": "fr"})[2] == b"lang fr"
        assert live.get("/varied", headers={"Accept-Language": "de"})[2] == b"lang de"
        assert live.get("/varied", headers={"Accept-Language": "fr"})[2] == b"lang fr"
        assert CALLS.count("v") == 2
        # 304 from the cache.
        assert live.get("/dated")[0] == 200
        since = {"If-Modified-Since": "Wed, 01 Jan 2020 00:00:00 GMT"}
        assert live.get("/dated", headers=since)[0] == 304
        assert cherrypy._cache.tot_non_modified == 1
        # Streamed responses are stored once sent.
        assert live.get("/stream")[2] == b"ab"
        assert live.get("/stream")[2] == b"ab"
        assert CALLS.count("s") == 1
        # HEAD of a cached page: its headers, no body.
        status, _, body = live.request("HEAD", "/")
        assert (status, body) == (200, b"")
        # A 404 is not cached.
        assert live.get("/nope")[0] == 404


def test_cache_stays_bounded_under_a_flood_of_urls() -> None:
    config = {"/": {"tools.caching.maxobjects": 5, "tools.caching.maxsize": 10_000}}
    with serve(CacheRoot(), "", config) as live:
        for i in range(60):
            assert live.get(f"/?n={i}")[0] == 200
        cache = cherrypy._cache
        assert len(cache.store) <= 5
        assert cache.cursize <= 10_000
        assert cache.tot_puts == 5


def test_antistampede_waiters_get_the_first_result() -> None:
    variants = caching.AntiStampedeCache()
    assert variants.wait("k", timeout=5) is None  # this caller computes it
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(variants.wait("k", timeout=30)))
    waiter.start()
    # The waiter blocks on the pending entry until the value is stored.
    variants["k"] = "value"
    waiter.join(30)
    assert got == ["value"] and variants["k"] == "value"


def test_memory_cache_expires_entries() -> None:
    cache = caching.MemoryCache()
    cache.store["u"] = caching.AntiStampedeCache()
    cache.store["u"].selecting_headers = []
    dict.__setitem__(cache.store["u"], (), (200, {}, b"x", 0.0))
    cache.expirations[1.0] = [(1, "u", ())]
    cache.cursize = 1
    cache.expire(now=2.0)
    assert (cache.store, cache.cursize, cache.tot_expires) == ({}, 0, 1)


# ------------------------------------------------------------------ xmlrpc, cpstats


class Rpc(XMLRPCController):
    @cherrypy.expose
    def add(self, a: int, b: int) -> int:
        return a + b

    @cherrypy.expose
    def fail(self) -> None:
        raise ValueError("no good")


def test_xmlrpc_controller() -> None:
    class Root:
        xmlrpc = Rpc()

    with serve(Root()) as live:
        with xmlrpc.client.ServerProxy(live.url("/xmlrpc/")) as proxy:
            assert proxy.add(2, 3) == 5
            with pytest.raises(xmlrpc.client.Fault, match="no good"):
                proxy.fail()
            with pytest.raises(xmlrpc.client.Fault, match="not supported"):
                proxy.missing()


def test_cpstats_records_and_stats_page_reports() -> None:
    class Root:
        stats = cpstats.StatsPage()

        @cherrypy.expose
        def index(self) -> str:
            return "counted"

    config = {"/": {"tools.cpstats.on": True, "tools.cpstats.uriset": "all"}}
    before = cpstats.appstats["Total Requests"]
    with serve(Root(), "", config) as live:
        for _ in range(3):
            assert live.get("/")[2] == b"counted"
        status, headers, body = live.get("/stats/data")
        assert (status, headers["Content-Type"]) == (200, "application/json")
        data = json.loads(body)["CherryPy Applications"]
        assert data["Total Requests"] >= before + 4
        assert data["URI Set Tracking"]["all"]["Count"] >= 3
        status, _, page = live.get("/stats/")
        assert status == 200 and b"<h1>CherryPy Applications</h1>" in page
        assert live.get("/stats/pause?namespace=x")[0] == 405


# ------------------------------------------------------------------ arguments


def test_every_builtin_tool_names_its_arguments() -> None:
    """The config checker refuses unknown tool arguments at start from these."""
    expected = {
        "encode": {"encoding", "default_encoding", "errors", "text_only", "add_charset"},
        "gzip": {"compress_level", "mime_types"},
        "json_in": {"content_type", "force", "processor"},
        "json_out": {"content_type", "handler"},
        "caching": {"delay", "maxobjects", "maxobj_size", "maxsize", "invalid_methods"},
        "etags": {"autotags"},
        "expires": {"secs", "force"},
        "params": {"exception", "error"},
        "cpstats": {"uriset", "slow_queries"},
        "referer": {"pattern", "accept", "accept_missing", "error", "message"},
    }
    for name, args in expected.items():
        names, anything = getattr(cherrypy.tools, name).arguments()
        assert args <= names and {"on", "priority"} <= names, name
        assert not anything, name


def test_json_out_runs_inline_without_a_hook_map() -> None:
    """json_out is as cheap as the default tools: no hook map for its path; given its
    own priority it runs as a hook, with the same result."""
    seen: list[bool] = []

    class Root:
        @cherrypy.expose
        @cherrypy.tools.json_out()
        def fast(self) -> Any:
            seen.append("hooks" in vars(cherrypy.serving.request))
            return [1]

        @cherrypy.expose
        @cherrypy.tools.json_out(priority=31)
        def hooked(self) -> Any:
            seen.append("hooks" in vars(cherrypy.serving.request))
            return [1]

    with serve(Root()) as live:
        for path in ("/fast", "/hooked"):
            status, headers, body = live.get(path)
            assert (status, headers["Content-Type"], body) == (200, "application/json", b"[1]")
    assert seen == [False, True]


def test_profiler_records_and_reports(tmp_path: Any) -> None:
    prof = profiler.Profiler(str(tmp_path))
    assert prof.run(sum, [1, 2, 3]) == 6
    (name,) = prof.statfiles()

    class Root:
        profile = prof

    with serve(Root()) as live:
        assert name.encode() in live.get("/profile/menu")[2]
        status, headers, body = live.get(f"/profile/report?filename={name}")
        assert (status, headers["Content-Type"]) == (200, "text/plain;charset=utf-8")
        assert b"function calls" in body
        assert live.get("/profile/report?filename=../../etc/passwd")[0] == 500


def test_covercp_lists_and_annotates_measured_files(tmp_path: Any) -> None:
    coverage = pytest.importorskip("coverage")
    from cherrypy_rs.lib import covercp

    module = tmp_path / "measured_mod.py"
    module.write_text("def used():\n    return 1\n\n\ndef unused():\n    return 2\n")
    cov = coverage.Coverage(data_file=str(tmp_path / "cov.data"), include=[str(module)])
    cov.start()
    namespace: dict[str, Any] = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    namespace["used"]()
    cov.stop()
    cov.save()
    loaded = coverage.Coverage(data_file=str(tmp_path / "cov.data"))
    loaded.load()

    with serve(covercp.CoverStats(loaded, root=str(tmp_path))) as live:
        status, _, body = live.get("/")
        assert status == 200 and b"measured_mod.py" in body and b"75%" in body
        name = str(module).replace("/", "%2F")
        status, _, body = live.get(f"/report?name={name}")
        assert status == 200
        assert b'<tr class="covered"><td>2</td><td><pre>    return 1' in body
        assert b'<tr class="missed"><td>6</td><td><pre>    return 2' in body
        # Only measured files below root: never a way to read other files.
        assert live.get("/report?name=%2Fetc%2Fpasswd")[0] == 404
        assert b"No modules covered" in live.get("/menu?exclude=measured")[2]


def test_a_tool_with_its_own_setup_takes_any_argument() -> None:
    """CherryPy's docs subclass Tool and read their own arguments in _setup (the
    config checker cannot know them)."""

    class MapTool(cherrypy.Tool):
        def _setup(self) -> None:
            self._merged_args().get("map")

    names, anything = MapTool("before_finalize", lambda: None).arguments()
    assert anything and {"on", "priority"} <= names
    assert cherrypy.tools.gzip.arguments()[1] is False


def test_unknown_tool_argument_is_an_error_at_start() -> None:
    config_check = pytest.importorskip(
        "cherrypy_rs.config_check", reason="the strict config checker is not on this branch yet"
    )
    config = {"/": {"tools.gzip.on": True, "tools.gzip.compress_levle": 5}}
    with pytest.raises(config_check.ConfigError, match=r"tools\.gzip\.compress_levle"):
        with serve(GzipRoot(), "", config):
            pass


def test_gzip_and_caching_of_a_static_file(tmp_path: Any) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    static = {
        "tools.gzip.on": True,
        "tools.staticdir.on": True,
        "tools.staticdir.dir": str(tmp_path),
    }
    config = {"/cached": {**static, "tools.caching.on": True}, "/plain": static}
    gz = {"Accept-Encoding": "gzip"}
    with serve(None, "", config) as live:
        for _ in range(2):
            status, headers, body = live.get("/cached/page.html", headers=gz)
            assert (status, headers["Content-Encoding"]) == (200, "gzip")
            assert gzip.decompress(body) == PAGE
        assert cherrypy._cache.tot_hist >= 1
        status, headers, body = live.get("/cached/page.html")
        assert (status, headers["Content-Encoding"], body) == (200, None, PAGE)
        status, headers, body = live.get("/plain/page.html", headers=gz)
        assert (status, headers["Content-Encoding"]) == (200, "gzip")
        assert gzip.decompress(body) == PAGE
        # Conditional and range requests are answered by Rust, uncompressed.
        lastmod = headers["Last-Modified"]
        since = {**gz, "If-Modified-Since": lastmod}
        assert live.get("/plain/page.html", headers=since)[0] == 304
        status, headers, body = live.get("/plain/page.html", headers={**gz, "Range": "bytes=0-9"})
        assert (status, headers["Content-Encoding"], body) == (206, None, PAGE[:10])


def test_gc_root_reports_no_leak_after_requests() -> None:
    class Root:
        gc = gctools.GCRoot()

        @cherrypy.expose
        @cherrypy.tools.gzip()
        @cherrypy.tools.json_out()
        def index(self) -> Any:
            return {"ok": True}

    with serve(Root()) as live:
        for _ in range(5):
            assert live.get("/", headers={"Accept-Encoding": "gzip"})[0] == 200
        status, _, body = live.get("/gc/stats")
    assert (status, body) == (200, b"Statistics:")


def test_referrer_tree_names_the_holder() -> None:
    held = [object()]
    holder = {"key": held}
    tree = gctools.ReferrerTree(maxdepth=1)
    lines = tree.format(tree.ascend(held))
    assert any("'key'" in line for line in lines), lines
    assert holder["key"] is held
