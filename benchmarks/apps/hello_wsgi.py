"""Bare WSGI hello-world app, served by every target of ``bench_wsgi.py``.

``bench_hello.py`` serves it with granian too.

Run as ``granian --interface wsgi hello_wsgi:app`` (or ``gunicorn hello_wsgi:app``,
``cherrypy-rs wsgi hello_wsgi:app``, ...) from this directory.
"""

from collections.abc import Callable, Iterable
from typing import Any

BODY = b"Hello, world!"
HEADERS = [
    ("Content-Type", "text/html;charset=utf-8"),
    ("Content-Length", str(len(BODY))),
]


def app(
    _environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    """Answer every request with ``Hello, world!``."""
    start_response("200 OK", HEADERS)
    return [BODY]
