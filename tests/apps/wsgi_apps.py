"""WSGI applications for the gateway tests: the same routes written with Flask, Django,
Bottle and Falcon, a raw application that counts ``close()`` calls on its results
(``counting_app``), and one that reports its environ (``environ_app``).

Every framework app has these routes (relative to its mount point):

- ``/``: ``root`` (reached by a request for the bare prefix, where PATH_INFO is "")
- ``/hello``: ``Hello from <framework>`` as text/plain
- ``/form`` (POST, urlencoded): the fields as JSON, ``{name: [values...]}``
- ``/upload`` (POST, multipart, field ``file``): JSON ``filename``, ``size``, ``sha256``
- ``/cookie?value=V``: sets the cookie ``who=V``; ``/whoami``: that cookie's value
- ``/redirect``: a redirect to ``/hello`` under the mount prefix
- ``/stream``: ``STREAM_CHUNKS`` from a generator
- ``/error``: raises ``RuntimeError`` (a 500)
- ``/env``: JSON ``SCRIPT_NAME`` and ``PATH_INFO`` as the framework received them
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Callable
from urllib.parse import parse_qs
from wsgiref.util import FileWrapper

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

STREAM_CHUNKS = [f"chunk {i}\n".encode() for i in range(5)]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def _digest(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _stream() -> Iterator[bytes]:
    yield from STREAM_CHUNKS


def _env(environ: Environ) -> dict[str, str]:
    return {"SCRIPT_NAME": environ.get("SCRIPT_NAME", ""), "PATH_INFO": environ["PATH_INFO"]}


# -- Flask ---------------------------------------------------------------------------


def flask_app() -> WSGIApp:
    from flask import Flask, Response, jsonify, redirect, request, url_for

    app = Flask("wsgi_apps_flask")

    @app.route("/")
    def root() -> Response:
        return Response("root", mimetype="text/plain")

    @app.route("/hello")
    def hello() -> Response:
        return Response("Hello from flask", mimetype="text/plain")

    @app.route("/form", methods=["POST"])
    def form() -> Response:
        return jsonify(request.form.to_dict(flat=False))

    @app.route("/upload", methods=["POST"])
    def upload() -> Response:
        f = request.files["file"]
        return jsonify(filename=f.filename, **_digest(f.read()))

    @app.route("/cookie")
    def cookie() -> Response:
        resp = Response("cookie set", mimetype="text/plain")
        resp.set_cookie("who", request.args.get("value", "alice"))
        return resp

    @app.route("/whoami")
    def whoami() -> Response:
        return Response(request.cookies.get("who", "anonymous"), mimetype="text/plain")

    @app.route("/redirect")
    def go() -> Response:
        return redirect(url_for("hello"))

    @app.route("/stream")
    def stream() -> Response:
        return Response(_stream(), mimetype="text/plain")

    @app.route("/error")
    def error() -> Response:
        raise RuntimeError("boom from flask")

    @app.route("/env")
    def env() -> Response:
        return jsonify(_env(request.environ))

    return app  # type: ignore[return-value]


# -- Django --------------------------------------------------------------------------

#: ROOT_URLCONF is this module: ``django_app()`` fills it in.
urlpatterns: list[Any] = []


def _configure_django() -> None:
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="cherrypy_rs-tests-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        TEMPLATES=[],
        USE_I18N=False,
        # Leave the logging module alone; errors reach the root logger.
        LOGGING_CONFIG=None,
    )
    import django

    django.setup(set_prefix=False)


def django_app() -> WSGIApp:
    _configure_django()
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import (
        HttpRequest,
        HttpResponse,
        JsonResponse,
        StreamingHttpResponse,
    )
    from django.shortcuts import redirect
    from django.urls import path

    def text(body: str) -> HttpResponse:
        return HttpResponse(body, content_type="text/plain; charset=utf-8")

    def root(request: HttpRequest) -> HttpResponse:
        return text("root")

    def hello(request: HttpRequest) -> HttpResponse:
        return text("Hello from django")

    def form(request: HttpRequest) -> HttpResponse:
        return JsonResponse(dict(request.POST.lists()))

    def upload(request: HttpRequest) -> HttpResponse:
        f = request.FILES["file"]
        return JsonResponse({"filename": f.name, **_digest(f.read())})

    def cookie(request: HttpRequest) -> HttpResponse:
        resp = text("cookie set")
        resp.set_cookie("who", request.GET.get("value", "alice"))
        return resp

    def whoami(request: HttpRequest) -> HttpResponse:
        return text(request.COOKIES.get("who", "anonymous"))

    def go(request: HttpRequest) -> HttpResponse:
        return redirect("hello")  # by URL name: reversed under the script prefix

    def stream(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(_stream(), content_type="text/plain")

    def error(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("boom from django")

    def env(request: HttpRequest) -> HttpResponse:
        return JsonResponse(_env(request.META))

    if not urlpatterns:
        urlpatterns.extend(
            [
                path("", root),
                path("hello", hello, name="hello"),
                path("form", form),
                path("upload", upload),
                path("cookie", cookie),
                path("whoami", whoami),
                path("redirect", go),
                path("stream", stream),
                path("error", error),
                path("env", env),
            ]
        )
    return WSGIHandler()  # type: ignore[return-value]


# -- Bottle --------------------------------------------------------------------------


def bottle_app() -> WSGIApp:
    import bottle

    app = bottle.Bottle()
    request, response = bottle.request, bottle.response

    @app.route("/")
    def root() -> str:
        response.content_type = "text/plain"
        return "root"

    @app.route("/hello", name="hello")
    def hello() -> str:
        response.content_type = "text/plain"
        return "Hello from bottle"

    @app.post("/form")
    def form() -> dict[str, Any]:
        forms = request.forms.decode()  # Bottle keeps latin-1 text until decode()
        return {name: forms.getall(name) for name in forms}

    @app.post("/upload")
    def upload() -> dict[str, Any]:
        f = request.files.get("file")
        return {"filename": f.raw_filename, **_digest(f.file.read())}

    @app.route("/cookie")
    def cookie() -> str:
        response.set_cookie("who", request.query.get("value", "alice"))
        response.content_type = "text/plain"
        return "cookie set"

    @app.route("/whoami")
    def whoami() -> str:
        response.content_type = "text/plain"
        return request.get_cookie("who", "anonymous")

    @app.route("/redirect")
    def go() -> None:
        # get_url() puts SCRIPT_NAME in front; redirect() makes it absolute.
        bottle.redirect(app.get_url("hello"))

    @app.route("/stream")
    def stream() -> Iterator[bytes]:
        response.content_type = "text/plain"
        return _stream()

    @app.route("/error")
    def error() -> str:
        raise RuntimeError("boom from bottle")

    @app.route("/env")
    def env() -> dict[str, str]:
        return _env(request.environ)

    return app  # type: ignore[return-value]


# -- Falcon --------------------------------------------------------------------------


def falcon_app() -> WSGIApp:
    import falcon

    class Root:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = "root"

    class Hello:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = "Hello from falcon"

    class Form:
        def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
            fields = req.get_media()
            resp.media = {k: v if isinstance(v, list) else [v] for k, v in fields.items()}

    class Upload:
        def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
            for part in req.get_media():
                if part.name == "file":
                    resp.media = {"filename": part.filename, **_digest(part.stream.read())}
                    return
            raise falcon.HTTPBadRequest(title="no file")

    class Cookie:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            # Falcon marks cookies Secure by default: this test runs on plain http.
            resp.set_cookie("who", req.get_param("value", default="alice"), secure=False)
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = "cookie set"

    class WhoAmI:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = req.cookies.get("who", "anonymous")

    class Redirect:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            # req.prefix is scheme://host + SCRIPT_NAME.
            raise falcon.HTTPFound(req.prefix + "/hello")

    class Stream:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = falcon.MEDIA_TEXT
            resp.stream = _stream()

    class Error:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            raise RuntimeError("boom from falcon")

    class Env:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = _env(req.env)

    app = falcon.App()
    for route, resource in [
        ("/", Root()),
        ("/hello", Hello()),
        ("/form", Form()),
        ("/upload", Upload()),
        ("/cookie", Cookie()),
        ("/whoami", WhoAmI()),
        ("/redirect", Redirect()),
        ("/stream", Stream()),
        ("/error", Error()),
        ("/env", Env()),
    ]:
        app.add_route(route, resource)
    return app  # type: ignore[return-value]


FRAMEWORKS: dict[str, Callable[[], WSGIApp]] = {
    "flask": flask_app,
    "django": django_app,
    "bottle": bottle_app,
    "falcon": falcon_app,
}


# -- A raw application that counts close() ------------------------------------------

_lock = threading.Lock()
#: close() calls on the results returned for each path (PATH_INFO).
CLOSES: Counter[str] = Counter()
#: Results returned (a result the server must close) for each path.
RETURNED: Counter[str] = Counter()
#: Things the applications observed, by name (see ``/exc-info-after``).
EVENTS: dict[str, Any] = {}
#: ``/gated`` waits for this before its second chunk.
GATE = threading.Event()
#: Open files handed to ``wsgi.file_wrapper``: kept referenced so that only the server
#: closes them, never the garbage collector.
FILES: list[Any] = []

FILE_DATA = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(12_000))
FILE_OFFSET = 1000
CL_LARGER = (100, b"0123456789")
CL_SMALLER = (5, [b"0123", b"456789"])
#: How long the slow infinite body runs at most if the server never notices the
#: client left.
SLOW_LIMIT = 30.0


def reset_counters() -> None:
    while FILES:
        FILES.pop().close()
    with _lock:
        CLOSES.clear()
        RETURNED.clear()
        EVENTS.clear()
        GATE.clear()


def _count(counter: Counter[str], key: str) -> None:
    with _lock:
        counter[key] += 1


class Closing:
    """A result that counts close() calls; iterates ``chunks`` (maybe a generator)."""

    def __init__(self, key: str, chunks: Iterable[Any]) -> None:
        self.key = key
        self.chunks = chunks
        _count(RETURNED, key)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.chunks)

    def close(self) -> None:
        _count(CLOSES, self.key)
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


class CountingFile(io.FileIO):
    """A real file whose close() calls are counted."""

    key = "/file-wrapper"

    def close(self) -> None:
        if not self.closed:  # the finalizer's call after the server's must not count
            _count(CLOSES, self.key)
        super().close()


class CountingBytesIO(io.BytesIO):
    def close(self) -> None:
        _count(CLOSES, "/file-wrapper-bytesio")
        super().close()


def _open_file(offset: int) -> CountingFile:
    fd, name = tempfile.mkstemp(prefix="cherrypy_rs-wsgi-")
    try:
        os.write(fd, FILE_DATA)
    finally:
        os.close(fd)
    f = CountingFile(name, "rb")
    os.unlink(name)
    f.seek(offset)
    FILES.append(f)
    return f


def _file_wrapper(environ: Environ) -> Callable[..., Iterable[bytes]]:
    """The server's ``wsgi.file_wrapper``, or wsgiref's (PEP 3333: it is optional)."""
    return environ.get("wsgi.file_wrapper", FileWrapper)  # type: ignore[no-any-return]


def counting_app() -> WSGIApp:
    """A raw WSGI app: each path (PATH_INFO) exercises one PEP 3333 case."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[Any]:
        path = environ["PATH_INFO"]
        if path == "/normal":
            start_response("200 OK", TEXT)
            return Closing(path, [b"hello, ", b"world"])
        if path == "/raise-mid":
            start_response("200 OK", TEXT)

            def raise_mid() -> Iterator[bytes]:
                yield b"partial"
                raise RuntimeError("boom mid-iteration")

            return Closing(path, raise_mid())
        if path == "/slow":
            start_response("200 OK", TEXT)

            def slow() -> Iterator[bytes]:
                deadline = time.monotonic() + SLOW_LIMIT
                while time.monotonic() < deadline:
                    yield b"x" * 1024
                    time.sleep(0.001)  # pacing only, so the loop does not spin

            return Closing(path, slow())
        if path == "/write":
            write = start_response("200 OK", TEXT)
            write(b"written; ")
            return Closing(path, [b"returned"])
        if path == "/late-start":

            def late() -> Iterator[bytes]:
                start_response("200 OK", [*TEXT, ("X-Late", "yes")])
                yield b""
                yield b"late body"

            return Closing(path, late())
        if path == "/exc-info-before":
            start_response("200 OK", TEXT)
            try:
                raise ValueError("changed my mind")
            except ValueError:
                start_response("500 Internal Server Error", TEXT, sys.exc_info())
            return Closing(path, [b"replaced"])
        if path == "/exc-info-after":
            start_response("200 OK", TEXT)

            def after() -> Iterator[bytes]:
                yield b"first"
                try:
                    raise ValueError("too late")
                except ValueError:
                    try:
                        start_response("500 Internal Server Error", TEXT, sys.exc_info())
                    except ValueError as exc:
                        EVENTS["reraised"] = str(exc)
                        raise
                    EVENTS["reraised"] = None
                yield b"not reached"

            return Closing(path, after())
        if path == "/file-wrapper":
            f = _open_file(FILE_OFFSET)
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            _count(RETURNED, path)
            return _file_wrapper(environ)(f, 8192)  # type: ignore[no-any-return]
        if path == "/file-wrapper-bytesio":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            _count(RETURNED, path)
            return _file_wrapper(environ)(CountingBytesIO(FILE_DATA), 4096)  # type: ignore[no-any-return]
        if path == "/gated":
            start_response("200 OK", TEXT)

            def gated() -> Iterator[bytes]:
                yield b"before the gate;"
                EVENTS["gate"] = GATE.wait(10)
                yield b"after the gate"

            return Closing(path, gated())
        if path == "/cl-larger":
            declared, body = CL_LARGER
            start_response("200 OK", [*TEXT, ("Content-Length", str(declared))])
            return Closing(path, [body])
        if path == "/cl-smaller":
            declared, chunks = CL_SMALLER
            start_response("200 OK", [*TEXT, ("Content-Length", str(declared))])
            return Closing(path, chunks)
        if path == "/str-body":
            start_response("200 OK", TEXT)
            return Closing(path, ["text, not bytes"])
        if path == "/no-start":
            return Closing(path, [b"never started"])
        if path == "/raise-before":
            raise RuntimeError("boom before start_response")
        if path == "/hop-connection":
            start_response("200 OK", [*TEXT, ("Connection", "close")])
            return Closing(path, [b"hop-by-hop"])
        if path == "/hop-transfer-encoding":
            start_response("200 OK", [*TEXT, ("Transfer-Encoding", "chunked")])
            return Closing(path, [b"hop-by-hop"])
        start_response("404 Not Found", TEXT)
        return Closing(path, [b"no such path"])

    return app


# -- An application that reports its environ -----------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, tuple):
        return list(value)
    return f"<{type(value).__name__}>"


def _read_input(environ: Environ, how: str) -> list[bytes]:
    """Reads the body with one of the wsgi.input methods, as pieces.

    When the server says the input is terminated, reads until it reports EOF (b"");
    otherwise reads CONTENT_LENGTH bytes and no further (PEP 3333 lets a server's input
    block past it, as wsgiref's does).
    """
    stream = environ["wsgi.input"]
    limit = None
    if not environ.get("wsgi.input_terminated"):
        limit = int(environ.get("CONTENT_LENGTH") or 0)
    pieces: list[bytes] = []
    total = 0

    def more() -> bool:
        return limit is None or total < limit

    if how == "read":
        while more():
            piece = stream.read(7 if limit is None else min(7, limit - total))
            if not piece:
                break
            pieces.append(piece)
            total += len(piece)
    elif how == "readline":
        while more():
            piece = stream.readline()
            if not piece:
                break
            pieces.append(piece)
            total += len(piece)
    elif how == "readlines":
        if limit is None:
            pieces = stream.readlines()
        elif limit:
            # The hint stops reading once the lines *exceed* it: stop at the limit.
            pieces = stream.readlines(limit - 1)
    elif how == "iter":
        if more():
            for piece in stream:
                pieces.append(piece)
                total += len(piece)
                if not more():
                    break
    return pieces


def environ_app() -> WSGIApp:
    """Answers JSON: ``environ`` (every key; values that are not str, bool, int or
    tuple shown as ``<TypeName>``) and ``pieces``, the body as read with the
    ``wsgi.input`` method named by the query parameter ``read`` (latin-1 text)."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        how = parse_qs(environ.get("QUERY_STRING", "")).get("read", ["read"])[0]
        pieces = _read_input(environ, how)
        errors = environ["wsgi.errors"]
        errors.write("environ_app: wsgi.errors works\n")
        errors.writelines(["environ_app: ", "writelines works\n"])
        errors.flush()
        payload = {
            "environ": {k: _jsonable(v) for k, v in environ.items()},
            "pieces": [p.decode("latin-1") for p in pieces],
        }
        body = json.dumps(payload).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app
