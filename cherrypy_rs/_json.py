"""``cherrypy._json``: the JSON module CherryPy's tools use, with ``encode`` (a value to
UTF-8 bytes, in chunks) and ``decode`` (a str to a value)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["decode", "encode", "json"]

decode = json.JSONDecoder().decode
_iterencode = json.JSONEncoder().iterencode


def encode(value: Any) -> Iterator[bytes]:
    """``value`` as JSON, UTF-8 encoded, chunk by chunk."""
    for chunk in _iterencode(value):
        yield chunk.encode("utf-8")
