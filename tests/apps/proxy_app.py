"""Targets for the reverse-proxy tests: each answers with what it was told about the
client (address, scheme, host) as JSON."""

from __future__ import annotations

import json
from typing import Any

import cherrypy_rs as cherrypy


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """WSGI: the environ keys a proxy's headers correct."""
    keys = ("REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME")
    body = json.dumps({k: environ.get(k) for k in keys}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


class Root:
    """CherryPy: request.remote, request.scheme, request.base and an absolute URL."""

    @cherrypy.expose
    def index(self) -> str:
        request = cherrypy.request
        return json.dumps(
            {
                "remote": request.remote.ip,
                "scheme": request.scheme,
                "base": request.base,
                "url": cherrypy.url("/page"),
            }
        )
