"""Small tools of ``cherrypy.lib.cptools``."""

from __future__ import annotations

from typing import Any

from ..errors import HTTPRedirect
from ..helper import url


def trailing_slash(
    request: Any, missing: bool = True, extra: bool = False, status: int | None = None
) -> None:
    """``tools.trailing_slash``: redirect to add (or remove) the final slash."""
    pi = request.path_info
    if request.is_index is True:
        if missing and not pi.endswith("/"):
            raise HTTPRedirect(url(pi + "/", request.query_string), status=status or 301)
    elif request.is_index is False and extra and pi.endswith("/") and pi != "/":
        raise HTTPRedirect(url(pi[:-1], request.query_string), status=status or 301)
