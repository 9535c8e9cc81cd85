"""Targets that are not what the command expects (the startup-error tests)."""

from __future__ import annotations

from typing import Any

import cherrypy_rs as cherrypy

SOME_INT = 3


class NeedsArguments:
    def __init__(self, database: str) -> None:
        self.database = database

    @cherrypy.expose
    def index(self) -> str:
        return self.database


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI application (cherrypy-rs wsgi refuses it)."""


class FlaskLike:
    """A WSGI application object, as Flask's (cherrypy-rs run refuses it)."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]


flask_like = FlaskLike()

try:
    import flask
except ImportError:  # flask is in the test extras; without it the test is skipped
    flask = None

#: A real Flask application (cherrypy-rs run refuses it: use cherrypy-rs wsgi).
real_flask = flask.Flask("wrong_targets") if flask is not None else None

#: An Application (a WSGI callable that tree.mount takes): cherrypy-rs run serves it.
application = cherrypy.Application(NeedsArguments("an application object"))
