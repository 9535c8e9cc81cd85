"""``tools.encode`` (``cherrypy.lib.encoding``): a handler's str output becomes bytes,
and text content types get a charset.

``encode_output`` is the work itself; the request path calls it inline after the
handler when ``tools.encode`` is the built-in tool (on by default), and ``encode`` is
the tool's callable when it runs through the hook machinery.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import context
from .._core import StaticFile


def encode_output(
    output: Any,
    response: Any,
    encoding: str = "utf-8",
    text_only: bool = True,
    **options: Any,
) -> Any:
    """Encode a handler's output: str → bytes in ``encoding``, and a charset on the
    text/* content type (any content type when ``text_only`` is off)."""
    headers = response.headers
    ctype = dict.get(headers, "Content-Type")
    if ctype is not None and (not text_only or str(ctype).lower().startswith("text/")):
        if "charset" not in str(ctype).lower():
            dict.__setitem__(headers, "Content-Type", f"{ctype};charset={encoding}")
    elif text_only:
        # CherryPy leaves non-text output alone: str output is then an error.
        return output
    if isinstance(output, str):
        return output.encode(encoding)
    if output is None or isinstance(output, (bytes, StaticFile)):
        return output
    if isinstance(output, (list, tuple)):
        return [c.encode(encoding) if isinstance(c, str) else c for c in output]
    return _encode_stream(output, encoding)


def encode(**options: Any) -> None:
    """The ``tools.encode`` callable (at ``before_handler``): wrap the page handler so
    that its output is encoded."""
    request = context.request_or_raise()
    inner = request.handler
    if inner is None:
        return

    def encoded(*args: Any, **kwargs: Any) -> Any:
        return encode_output(inner(*args, **kwargs), context.response_or_raise(), **options)

    request.handler = encoded


def _encode_stream(chunks: Any, encoding: str) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk.encode(encoding) if isinstance(chunk, str) else chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
