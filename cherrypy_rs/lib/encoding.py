"""``tools.encode`` (``cherrypy.lib.encoding``): a handler's str output becomes bytes,
and text content types get a charset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._core import StaticFile


def encode_output(output: Any, request: Any, response: Any) -> Any:
    """What ``tools.encode`` does to a handler's output: str → bytes, and a charset on
    text/* content types."""
    config = request.config
    if not config.get("tools.encode.on", True):
        return output
    encoding = config.get("tools.encode.encoding", "utf-8")
    headers = response.headers
    ctype = dict.get(headers, "Content-Type")
    text_only = config.get("tools.encode.text_only", True)
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


def _encode_stream(chunks: Any, encoding: str) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk.encode(encoding) if isinstance(chunk, str) else chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
