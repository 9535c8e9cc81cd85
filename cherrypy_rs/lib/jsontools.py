"""``cherrypy.lib.jsontools``: ``tools.json_in`` (a JSON request entity becomes
``request.json``) and ``tools.json_out`` (what the handler returns is sent as JSON)."""

from __future__ import annotations

import json
import threading
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Callable

from .. import context
from ..errors import HTTPError

_decode = json.JSONDecoder().decode
_encoder = json.JSONEncoder()
_local = threading.local()


def _encode(value: Any) -> str:
    """``json.JSONEncoder().encode(value)``, with the C encoder that ``encode`` builds
    for every call made once per thread (it keeps the map of the containers being
    encoded, which finds circular references, between calls: emptied after each)."""
    if c_make_encoder is None or isinstance(value, str):
        return _encoder.encode(value)
    state = _local.__dict__.get("encoder")
    if state is None:
        markers: dict[int, Any] = {}
        state = _local.encoder = (
            c_make_encoder(
                markers,
                _encoder.default,
                encode_basestring_ascii,
                _encoder.indent,
                _encoder.key_separator,
                _encoder.item_separator,
                _encoder.sort_keys,
                _encoder.skipkeys,
                _encoder.allow_nan,
            ),
            markers,
        )
    encode, markers = state
    try:
        return "".join(encode(value, 0))
    finally:
        if markers:
            markers.clear()


def json_processor(entity: Any) -> None:
    """Read the entity as JSON into ``request.json``: 411 without a Content-Length,
    400 (saying so) when it is not a JSON document in UTF-8."""
    if not entity.headers.get("Content-Length", ""):
        raise HTTPError(411)
    body = entity.fp.read()
    with HTTPError.handle(ValueError, 400, "Invalid JSON document"):
        context.request_or_raise().json = _decode(body.decode("utf-8"))


def json_in(
    content_type: Any = ("application/json", "text/javascript"),
    force: bool = True,
    debug: bool = False,
    processor: Callable[[Any], None] = json_processor,
) -> None:
    """``tools.json_in`` (``before_request_body``, priority 30): a request entity of
    one of the ``content_type`` values is decoded into ``request.json`` by
    ``processor``. With ``force`` (the default) an entity of any other type is refused
    with 415; a request without an entity leaves ``request.json`` unset."""
    request = context.request_or_raise()
    if isinstance(content_type, (str, bytes)):
        content_type = [content_type]
    body: Any = request.body  # processors/default_proc: see bodies.RequestBody
    if force:
        body.processors.clear()
        body.default_proc = HTTPError(
            415, f"Expected an entity of content type {', '.join(content_type)}"
        )
    for ctype in content_type:
        body.processors[ctype] = processor


def json_handler(*args: Any, **kwargs: Any) -> bytes:
    """``json_out``'s default handler: the inner handler's value encoded as JSON."""
    value = context.request_or_raise()._json_inner_handler(*args, **kwargs)
    return _encode(value).encode("utf-8")  # type: ignore[no-any-return]


def json_out(
    content_type: str | None = "application/json",
    debug: bool = False,
    handler: Callable[..., Any] = json_handler,
) -> None:
    """``tools.json_out`` (``before_handler``, priority 30): the page handler's return
    value is encoded by ``handler`` (JSON by default) and sent as ``content_type``
    (unless None). The inner handler is ``request._json_inner_handler``."""
    request = context.request_or_raise()
    if request.handler is None:
        return
    request._json_inner_handler = request.handler
    request.handler = handler
    if content_type is not None:
        context.response_or_raise().headers["Content-Type"] = content_type
