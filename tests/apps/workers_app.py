"""A WSGI application for the worker-process tests: it answers with its PID."""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/slow":
        # The event the tests wait for before signalling: this request is in flight.
        print(f"slow request started in {os.getpid()}", file=sys.stderr, flush=True)
        time.sleep(float(environ.get("QUERY_STRING") or 1))
    elif path == "/hang":
        time.sleep(60)
    body = f"{os.getpid()} {environ['wsgi.multiprocess']} {os.getuid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
