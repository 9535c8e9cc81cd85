"""The request handler used while the access log needs Python (a custom
``LogManager.access_log_format``, or ``access`` replaced): it calls
``cherrypy.log.access()`` for each request, where CherryPy's ``Request.run`` does —
once the response is settled, before its body is sent — and the Rust server writes that
line instead of its own.

The servers pick it (``_server.Server._handlers``) only in that case, and pick the plain
``RequestHandler`` again when the format is set back: the default path pays nothing.
"""

from __future__ import annotations

import logging
from typing import Callable

from . import context
from .handler import Reply, RequestHandler
from .objects import Request, Response


class AccessLoggingHandler(RequestHandler):
    """``RequestHandler`` that writes each request's access-log line in Python."""

    #: Never: the line is written from the request and response objects.
    quick_enabled = False

    def respond(
        self,
        request: Request,
        response: Response,
        step: Callable[[Request, Response], None] | None = None,
    ) -> None:
        """The request, then its line (not for a request that ends in an internal
        redirect or a propagating exception: the next one, if any, is logged)."""
        super().respond(request, response, step)
        _log_access()

    def bare_error(self, request: Request) -> Reply:
        """The last-resort 500, logged with that status as CherryPy logs it."""
        reply = super().bare_error(request)
        response = context.response_or_none()
        if response is not None:
            response.status_code = 500
            response.reason = None
            response.body = reply[3]
            response.stream = False
        _log_access()
        return reply


def _log_access() -> None:
    log = context.site.log
    try:
        log.access()
    except Exception:
        log.error(traceback=True, severity=logging.ERROR)
