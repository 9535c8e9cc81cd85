"""Conformance app 3: a file-sharing site written as CherryPy 18 users write one.

Multipart uploads read through ``cherrypy._cpreqbody.Part`` objects and streamed to
disk in blocks (with a ``Part`` subclass that always spools to a file), downloads with
``serve_file`` / ``serve_download`` (``Range`` requests), ``tools.staticdir`` with an
index, streamed generator responses (``response.stream``), ``_cp_config`` on classes and
the ``@cherrypy.config`` decorator, ``tools.caching`` and ``tools.encode`` with text
outside ASCII. Served by tests/apps/run_conformance.py.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from typing import Any

import cherrypy
from cherrypy._cpreqbody import Part
from cherrypy.lib.static import serve_download, serve_file

UPLOADS = ""
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class DiskPart(Part):
    """Spool every file part to disk at once, whatever its size."""

    maxrambytes = 0


class Files:
    """/files: upload, list, fetch."""

    _cp_config = {"request.body.part_class": DiskPart, "tools.encode.encoding": "utf-8"}

    @cherrypy.expose
    def index(self) -> str:
        names = sorted(os.listdir(UPLOADS))
        items = "".join(f"<li><a href='get/{n}'>{n}</a></li>" for n in names)
        return f"<h1>Fichiers déposés</h1><ul>{items}</ul>"

    @cherrypy.expose
    def upload(self, upfile: Part | list[Part] | None = None, note: str = "") -> str:
        if cherrypy.request.method != "POST":
            raise cherrypy.HTTPError(405)
        if upfile is None:
            raise cherrypy.HTTPError(400, "No file given")
        parts = upfile if isinstance(upfile, list) else [upfile]
        lines = [f"note={note}"]
        for part in parts:
            name = SAFE_NAME.sub("_", part.filename or "unnamed")
            digest = hashlib.sha256()
            size = 0
            with open(os.path.join(UPLOADS, name), "wb") as out:
                while True:
                    block = part.file.read(8192)
                    if not block:
                        break
                    digest.update(block)
                    out.write(block)
                    size += len(block)
            lines.append(
                f"{name} {part.content_type} {size} {digest.hexdigest()[:16]} "
                f"field={part.name} ondisk={part.file is not None}"
            )
        return "\n".join(lines)

    @cherrypy.expose
    def get(self, name: str) -> Any:
        path = os.path.join(UPLOADS, SAFE_NAME.sub("_", name))
        if not os.path.isfile(path):
            raise cherrypy.NotFound()
        return serve_file(path)

    @cherrypy.expose
    def typed(self, name: str) -> Any:
        return serve_file(os.path.join(UPLOADS, SAFE_NAME.sub("_", name)), "text/csv")

    @cherrypy.expose
    def download(self, name: str) -> Any:
        path = os.path.join(UPLOADS, SAFE_NAME.sub("_", name))
        return serve_download(path, name=f"copy of {name}")

    @cherrypy.expose
    def unicode_download(self, name: str) -> Any:
        path = os.path.join(UPLOADS, SAFE_NAME.sub("_", name))
        return serve_file(path, "application/octet-stream", "attachment", "r\u00e9sum\u00e9.txt")


@cherrypy.config(**{"response.stream": True})
class Streams:
    """/streams: generators sent as they are produced."""

    @cherrypy.expose
    def index(self, n: str = "3") -> Iterator[str]:
        yield "start\n"
        for i in range(int(n)):
            yield f"line {i} \u2713\n"
        yield "end\n"

    @cherrypy.expose
    @cherrypy.config(**{"response.stream": False})
    def buffered(self) -> Iterator[bytes]:
        yield b"not "
        yield b"streamed"

    @cherrypy.expose
    def csv(self) -> Iterator[bytes]:
        cherrypy.response.headers["Content-Type"] = "text/csv"
        cherrypy.response.headers["Content-Disposition"] = 'attachment; filename="data.csv"'
        for i in range(4):
            yield f"{i},{i * i}\n".encode()


class Root:
    _cp_config = {"tools.encode.on": True, "tools.encode.encoding": "utf-8"}

    def __init__(self) -> None:
        self.files = Files()
        self.streams = Streams()
        self.hits = 0

    @cherrypy.expose
    def index(self) -> str:
        return "Bienvenue \u2014 d\u00e9p\u00f4t de fichiers \u2603"

    @cherrypy.expose
    @cherrypy.config(**{"tools.encode.encoding": "iso-8859-1"})
    def latin(self) -> str:
        return "caf\u00e9 cr\u00e8me"

    @cherrypy.expose
    def negotiated(self) -> str:
        return "na\u00efve r\u00e9sum\u00e9"

    @cherrypy.expose
    @cherrypy.tools.caching(delay=3600)
    def cached(self) -> str:
        self.hits += 1
        return f"computed {self.hits} time(s)"

    @cherrypy.expose
    def raw(self, name: str) -> Any:
        cherrypy.response.headers["Content-Type"] = "application/octet-stream"
        return open(os.path.join(UPLOADS, SAFE_NAME.sub("_", name)), "rb")

    @cherrypy.expose
    def pieces(self) -> list[str]:
        return ["un ", "deux ", "trois \u2192 ", "quatre"]

    @cherrypy.expose
    @cherrypy.tools.caching(delay=3600)
    @cherrypy.tools.gzip()
    def cached_gz(self) -> str:
        self.hits += 1
        return f"gz computed {self.hits} " + "x" * 500

    @cherrypy.expose
    @cherrypy.tools.caching(delay=3600)
    def greeting(self) -> str:
        """Cached per Accept-Language: the response says it varies on it."""
        self.hits += 1
        cherrypy.response.headers["Vary"] = "Accept-Language"
        lang = cherrypy.request.headers.get("Accept-Language", "en")
        word = {"fr": "Bonjour", "de": "Gr\u00fc\u00df Gott"}.get(lang, "Hello")
        return f"{word} ({self.hits})"

    @cherrypy.expose
    def big_upload(self, data: Part | None = None) -> str:
        return "should not be reached"


def serve(port: int, workdir: str) -> None:
    global UPLOADS
    UPLOADS = os.path.join(workdir, "uploads")
    os.makedirs(UPLOADS, exist_ok=True)
    public = os.path.join(workdir, "public")
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "log.screen": False,
            "server.max_request_body_size": 150_000,
        }
    )
    config: dict[str, dict[str, Any]] = {
        "/": {"tools.staticdir.root": workdir},
        "/public": {
            "tools.staticdir.on": True,
            "tools.staticdir.dir": "public",
            "tools.staticdir.index": "index.html",
        },
        "/big_upload": {"request.body.maxbytes": 1000},
    }
    assert os.path.isdir(public)
    cherrypy.quickstart(Root(), "/", config)
