"""Small CherryPy application used to compare CherryPy 18 with cherrypy_rs.

The module does a plain ``import cherrypy``; ``run_compat.py`` swaps in
``cherrypy_rs`` via ``sys.modules`` before importing it.  Every handler
returns deterministic output (JSON with sorted keys where a structure is
returned) so that the two servers can be compared byte for byte, modulo the
port number.

Mount with ``cherrypy.tree.mount(make_root(), "/", CONFIG)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import cherrypy


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def _request_info(*args: str, **kwargs: Any) -> str:
    req = cherrypy.request
    return _dump(
        {
            "args": list(args),
            "kwargs": kwargs,
            "base": req.base,
            "script_name": req.script_name,
            "path_info": req.path_info,
            "query_string": req.query_string,
            "remote_ip": req.remote.ip,
            "method": req.method,
            "protocol": list(req.protocol),
            "is_index": req.is_index,
        }
    )


class Sub:
    """Sub-object with an index: ``/sub`` -> 301 ``/sub/``."""

    @cherrypy.expose
    def index(self) -> str:
        return "sub index"

    @cherrypy.expose
    def page(self) -> str:
        return "sub page"

    @cherrypy.expose
    def urls(self) -> str:
        return _dump(
            {
                "url": cherrypy.url(),
                "url_x_qs": cherrypy.url("x", qs="a=1"),
                "url_abs": cherrypy.url("/abs"),
                "url_relative": cherrypy.url("x", relative=True),
            }
        )

    @cherrypy.expose
    def info(self, *args: str, **kwargs: Any) -> str:
        return _request_info(*args, **kwargs)


class Catch:
    """Sub-object with only a ``default`` handler."""

    @cherrypy.expose
    def default(self, *args: str, **kwargs: Any) -> str:
        return _dump(
            {
                "default_args": list(args),
                "default_kwargs": kwargs,
                "is_index": cherrypy.request.is_index,
            }
        )


class ExposedObj:
    """Exposed through the ``exposed = True`` class attribute (old style)."""

    exposed = True

    def __call__(self, *args: str, **kwargs: Any) -> str:
        return _dump({"exposed_obj_args": list(args), "kwargs": kwargs})

    def hidden(self) -> str:  # not exposed: becomes a positional arg
        return "must never be served"


class Quiet:
    """Mounted under ``/quiet`` where CONFIG turns show_tracebacks off."""

    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("kaboom quietly")


class Rest:
    """Mounted under ``/rest`` with ``cherrypy.dispatch.MethodDispatcher``."""

    exposed = True

    def GET(self, *args: str, **kwargs: Any) -> str:
        return _dump({"method": "GET", "args": list(args), "kwargs": kwargs})

    def POST(self, name: str) -> str:
        cherrypy.response.status = 201
        return _dump({"method": "POST", "name": name})

    @cherrypy.config(**{"response.headers.X-Custom": "put"})
    def PUT(self) -> str:
        return "put"


class VhostSite:
    """Under ``/vh`` (VirtualHost: ``other.example`` gets the ``/vhalt`` prefix)."""

    @cherrypy.expose
    def index(self) -> str:
        return "vh main"

    @cherrypy.expose
    def page(self) -> str:
        return "vh main page"


class VhostAlt:
    @cherrypy.expose
    def index(self) -> str:
        return "vh alt"

    @cherrypy.expose
    def page(self) -> str:
        return "vh alt page"


class Results:
    """``/ret/<kind>``: handlers returning values of every type."""

    @cherrypy.expose
    def int_(self) -> Any:
        return 42

    @cherrypy.expose
    def none(self) -> Any:
        return None

    @cherrypy.expose
    def empty(self) -> Any:
        return ""

    @cherrypy.expose
    def list_str(self) -> Any:
        return ["a", "b"]

    @cherrypy.expose
    def list_bytes(self) -> Any:
        return [b"a", b"b"]

    @cherrypy.expose
    def tuple_str(self) -> Any:
        return ("t", "u")

    @cherrypy.expose
    def gen_str(self) -> Any:
        yield "x"
        yield "y"

    @cherrypy.expose
    def gen_mixed(self) -> Any:
        yield "x"
        yield b"y"

    @cherrypy.expose
    def dict_(self) -> Any:
        return {"a": 1}

    @cherrypy.expose
    def fileobj(self) -> Any:
        import io

        return io.BytesIO(b"file body")

    @cherrypy.expose
    def bytes_non_text(self) -> Any:
        cherrypy.response.headers["Content-Type"] = "application/octet-stream"
        return b"\x00\x01"

    @cherrypy.expose
    @cherrypy.config(**{"tools.encode.on": False})
    def custom_cl(self, cl: str, chunks: Any = ()) -> Any:
        # A declared Content-Length the body does not match (cheroot: 500 or cut).
        cherrypy.response.headers["Content-Length"] = cl
        return [c.encode("latin-1") for c in ([chunks] if isinstance(chunks, str) else chunks)]

    @cherrypy.expose
    def str_non_text(self) -> Any:
        cherrypy.response.headers["Content-Type"] = "application/json"
        return '{"a": 1}'


class Headers:
    """``/hdr/<kind>``: response header encoding, request headers as CherryPy fills them."""

    @cherrypy.expose
    def latin1(self) -> str:
        cherrypy.response.headers["X-Custom"] = "caf\u00e9"
        return "ok"

    @cherrypy.expose
    def unicode(self) -> str:
        cherrypy.response.headers["X-Custom"] = "caf\u00e9 \u2603"
        return "ok"

    @cherrypy.expose
    def int_(self) -> str:
        cherrypy.response.headers["X-Custom"] = 7
        return "ok"

    @cherrypy.expose
    def request(self) -> str:
        h = cherrypy.request.headers
        keys = ("Remote-Addr", "X-Rep", "Cookie", "Accept", "Host", "X-Empty")
        cookies = sorted((k, m.value) for k, m in cherrypy.request.cookie.items())
        return _dump({"headers": {k: h.get(k) for k in keys}, "cookies": cookies})

    @cherrypy.expose
    def accept(self) -> str:
        h = cherrypy.request.headers
        return _dump(
            {
                "accept": [str(e) for e in h.elements("Accept")],
                "qvalues": [e.qvalue for e in h.elements("Accept")],
                "values": h.values("Accept"),
                "language": [str(e) for e in h.elements("Accept-Language")],
                "encoding": [str(e) for e in h.elements("Accept-Encoding")],
            }
        )


def _describe(value: Any) -> Any:
    """A field as JSON: text as is, a file upload as its Part attributes and content."""
    if isinstance(value, list):
        return [_describe(v) for v in value]
    if isinstance(value, str):
        return value
    data = value.file.read() if value.file is not None else value.value
    return {
        "name": value.name,
        "filename": value.filename,
        "content_type": value.content_type.value,
        "headers": sorted(value.headers.items()),
        "content": data.decode("latin-1"),
    }


class Bodies:
    """Request bodies (``cherrypy._cpreqbody``) as handlers see them."""

    @cherrypy.expose
    def fields(self, **kwargs: Any) -> str:
        body = cherrypy.request.body
        return _dump(
            {
                "kwargs": {k: _describe(v) for k, v in kwargs.items()},
                "content_type": body.content_type.value,
                "length": body.length,
                "charset": body.charset,
                "attempt_charsets": body.attempt_charsets,
                "parts": [[p.name, p.filename, p.fullvalue()] for p in body.parts],
            }
        )

    @cherrypy.expose
    def echo(self) -> Any:
        # The unprocessed body is a file-like iterable: CherryPy sends it back.
        return cherrypy.request.body

    @cherrypy.expose
    def lines(self) -> str:
        body = cherrypy.request.body
        return _dump([line.decode("latin-1") for line in body.readlines()])

    @cherrypy.expose
    def utf16(self, **kwargs: Any) -> str:
        return _dump({"kwargs": kwargs, "charset": cherrypy.request.body.charset})

    utf16._cp_config = {"request.body.attempt_charsets": ["utf-16"]}

    @cherrypy.expose
    def unprocessed(self, **kwargs: Any) -> str:
        # CherryPy's unprocessed body.read() fails (its fp is the socket reader, which
        # takes no fp_out): read the fp.
        body = cherrypy.request.body.fp.read()
        return _dump({"kwargs": kwargs, "body": body.decode("latin-1")})

    unprocessed._cp_config = {"request.process_request_body": False}


class Root:
    def __init__(self) -> None:
        self.bodies = Bodies()
        self.sub = Sub()
        self.catch = Catch()
        self.exposedobj = ExposedObj()
        self.quiet = Quiet()
        self.rest = Rest()
        self.vh = VhostSite()
        # other.example's requests for /vh/... are dispatched on /vhalt/vh/...
        self.vhalt = Sub()
        self.vhalt.vh = VhostAlt()  # type: ignore[attr-defined]
        self.ret = Results()
        self.hdr = Headers()

    # -- dispatch --------------------------------------------------------
    @cherrypy.expose
    def index(self) -> str:
        return "Hello from index"

    @cherrypy.expose
    def greet(self, name: Any = "stranger", *args: str) -> str:
        return _dump({"name": name, "args": list(args)})

    @cherrypy.expose
    def need(self, required: str) -> str:
        return _dump({"required": required})

    @cherrypy.expose
    def nothing(self) -> str:
        return "nothing"

    @cherrypy.expose
    def feed_xml(self) -> str:
        return "<feed/>"

    @cherrypy.expose
    def xml_str(self) -> str:
        # tools.encode only encodes text/* bodies: str + application/xml -> 500
        cherrypy.response.headers["Content-Type"] = "application/xml"
        return "<doc/>"

    @cherrypy.expose
    def xml_bytes(self) -> bytes:
        cherrypy.response.headers["Content-Type"] = "application/xml"
        return b"<doc/>"

    @cherrypy.expose(["alias1", "alias2"])
    def aliased(self) -> str:
        return "aliased"

    # -- errors ----------------------------------------------------------
    @cherrypy.expose
    def forbidden(self) -> str:
        raise cherrypy.HTTPError(403, "nope")

    @cherrypy.expose
    def notfound(self) -> str:
        raise cherrypy.NotFound()

    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("kaboom")

    @cherrypy.expose
    def error_html(self) -> str:
        raise cherrypy.HTTPError(400, "<b>bold & raw</b>")

    @cherrypy.expose
    def custom_reason(self) -> str:
        raise cherrypy.HTTPError("499 Custom Reason", "custom message")

    @cherrypy.expose
    def headers_then_error(self, kind: str = "http") -> str:
        cherrypy.response.headers["X-Custom"] = "kept?"
        cherrypy.response.cookie["err"] = "1"
        if kind == "http":
            raise cherrypy.HTTPError(403)
        if kind == "redirect":
            raise cherrypy.HTTPRedirect("/target")
        raise ValueError("after headers")

    # -- redirects -------------------------------------------------------
    @cherrypy.expose
    def redirect(self) -> str:
        raise cherrypy.HTTPRedirect("/target")

    @cherrypy.expose
    def redirect_code(self, code: str) -> str:
        raise cherrypy.HTTPRedirect("/target", int(code))

    @cherrypy.expose
    def redirect_multi(self) -> str:
        raise cherrypy.HTTPRedirect(["/a", "/b?x=1&y=<2>"], 300)

    @cherrypy.expose
    def redirect_relative(self) -> str:
        raise cherrypy.HTTPRedirect("target?q=1")

    @cherrypy.expose
    def target(self, **kwargs: Any) -> str:
        return "target reached"

    @cherrypy.expose
    def internal(self, **kwargs: Any) -> str:
        raise cherrypy.InternalRedirect("/other")

    @cherrypy.expose
    def internal_qs(self, **kwargs: Any) -> str:
        raise cherrypy.InternalRedirect("/other?x=1")

    @cherrypy.expose
    def other(self, **kwargs: Any) -> str:
        return "other " + _request_info(**kwargs)

    # -- response manipulation ------------------------------------------
    @cherrypy.expose
    def custom(self) -> str:
        cherrypy.response.headers["X-Custom"] = "yes"
        cherrypy.response.status = 201
        cherrypy.response.cookie["a"] = "b"
        cherrypy.response.cookie["c"] = "d e"
        cherrypy.response.cookie["c"]["path"] = "/"
        cherrypy.response.cookie["c"]["max-age"] = 3600
        return "created"

    @cherrypy.expose
    def status_str(self) -> str:
        cherrypy.response.status = "299 Whatever"
        return "odd status"

    @cherrypy.expose
    def stream(self) -> Iterator[str]:
        yield "chunk1,"
        yield "chunk2,"
        yield "chunk3"

    stream._cp_config = {"response.stream": True}  # type: ignore[attr-defined]

    @cherrypy.expose
    def gen(self) -> Iterator[str]:
        yield "gen1,"
        yield "gen2"

    @cherrypy.expose
    def raw_bytes(self) -> bytes:
        return b"raw \xffbytes"

    @cherrypy.expose
    def nonebody(self) -> None:
        return None

    @cherrypy.expose
    def strlist(self) -> list[str]:
        return ["a", "b", "c"]

    @cherrypy.expose
    def unicode(self) -> str:
        return "h\u00e9llo \u2603"

    # -- request introspection ----------------------------------------
    @cherrypy.expose
    def params(self, **kwargs: Any) -> str:
        return _dump({"params": cherrypy.request.params, "kwargs": kwargs})

    @cherrypy.expose
    def urls_more(self, **kwargs: Any) -> str:
        return _dump(
            {
                "qs_dict": cherrypy.url("/x", qs={"a": "1", "b": "two words"}),
                "qs_list": cherrypy.url("x", qs=[("k", "v"), ("k", "w")]),
                "relative": cherrypy.url("/sub/page", relative=True),
                "relative_server": cherrypy.url("/sub/page", relative="server"),
                "base": cherrypy.url("/p", base="https://example.org:8443"),
                "script_name": cherrypy.url("/p", script_name="/mnt"),
                "dots": cherrypy.url("../up/./x"),
            }
        )

    @cherrypy.expose
    def urls(self, **kwargs: Any) -> str:
        return _dump(
            {
                "url": cherrypy.url(),
                "url_x_qs": cherrypy.url("x", qs="a=1"),
                "url_abs": cherrypy.url("/abs"),
            }
        )

    @cherrypy.expose
    def reqinfo(self, *args: str, **kwargs: Any) -> str:
        return _request_info(*args, **kwargs)


def make_root() -> Root:
    return Root()


CONFIG: dict[str, dict[str, Any]] = {
    "/": {"tools.trailing_slash.on": True},
    "/quiet": {"request.show_tracebacks": False},
    "/rest": {"request.dispatch": cherrypy.dispatch.MethodDispatcher()},
    "/vh": {"request.dispatch": cherrypy.dispatch.VirtualHost(**{"other.example": "/vhalt"})},
}
