"""Functions behind built-in tools (``cherrypy.lib.cptools``)."""

from __future__ import annotations

import logging

from .. import context
from ..errors import HTTPRedirect
from ..helper import url


def trailing_slash(
    missing: bool = True, extra: bool = False, status: int | None = None, debug: bool = False
) -> None:
    """``tools.trailing_slash``: redirect to add the final slash to an index path
    (``missing``) or to remove it from a non-index one (``extra``); 301 by default."""
    request = context.request_or_raise()
    pi = request.path_info
    if request.is_index is True:
        if missing and not pi.endswith("/"):
            raise HTTPRedirect(url(pi + "/", request.query_string), status=status or 301)
    elif request.is_index is False and extra and pi.endswith("/") and pi != "/":
        raise HTTPRedirect(url(pi[:-1], request.query_string), status=status or 301)


def log_traceback(severity: int = logging.ERROR, debug: bool = False) -> None:
    """``tools.log_tracebacks``: write the current exception's traceback to the error
    log (on by default, at ``before_error_response``)."""
    log = context.site.log
    if log is not None:
        log.error("", "HTTP", severity=severity, traceback=True)


def log_request_headers(debug: bool = False) -> None:
    """``tools.log_headers``: write the request headers to the error log (on by
    default, at ``before_error_response``)."""
    request = context.request_or_raise()
    lines = "\n".join(f"    {name}: {value}" for name, value in request.header_list)
    log = context.site.log
    if log is not None:
        log.error(f"\nRequest Headers:\n{lines}", "HTTP")


# session_auth lives in lib/sessionauth.py (with tools.sessions); CherryPy exports it here.
from .sessionauth import SessionAuth, session_auth  # noqa: E402, F401
