"""XML-RPC (``cherrypy.lib.xmlrpcutil``, and ``XMLRPCController`` of
``cherrypy._cptools``).

Mount an ``XMLRPCController`` subclass and set ``request.dispatch`` to
``cherrypy.dispatch.XMLRPCDispatcher()``: a POST of a ``methodCall`` document to
``/RPC2`` (or any path below the controller) calls the exposed method it names
(``a.b`` walks attributes), and its return value goes back as a ``methodResponse``.
An exception becomes a ``Fault`` (code 1, the exception's text): the controller turns
``tools.xmlrpc`` on, whose error handler (``on_error``) answers every error that way.
``tools.xmlrpc.encoding`` and ``tools.xmlrpc.allow_none`` set how responses are written.
"""

from __future__ import annotations

import sys
import xmlrpc.client
from typing import Any

from .. import context
from ..helper import expose

__all__ = [
    "XMLRPCController",
    "get_xmlrpclib",
    "on_error",
    "patched_path",
    "process_body",
    "respond",
]


def get_xmlrpclib() -> Any:
    """The ``xmlrpc.client`` module."""
    return xmlrpc.client


def process_body() -> tuple[tuple[Any, ...], str]:
    """``(params, method name)`` of the request's ``methodCall`` document."""
    try:
        params, method = xmlrpc.client.loads(context.request_or_raise().body.read())
    except Exception:
        return ("ERROR PARAMS",), "ERRORMETHOD"
    return params, method or ""


def patched_path(path: str) -> str:
    """The path an XML-RPC call is dispatched on: a final "/" added, "/RPC2" dropped."""
    if not path.endswith("/"):
        path += "/"
    if path.startswith("/RPC2/"):
        path = path[5:]
    return path


def _set_response(body: str | bytes) -> None:
    response = context.response_or_raise()
    data = body.encode("utf-8") if isinstance(body, str) else body
    response.status = "200 OK"
    response.body = data
    response.headers["Content-Type"] = "text/xml"
    response.headers["Content-Length"] = len(data)


def respond(body: Any, encoding: str = "utf-8", allow_none: int = 0) -> None:
    """Answer with ``body`` as a ``methodResponse`` (or a ``Fault``)."""
    if not isinstance(body, xmlrpc.client.Fault):
        body = (body,)
    _set_response(
        xmlrpc.client.dumps(
            body, methodresponse=True, encoding=encoding, allow_none=bool(allow_none)
        )
    )


def on_error(*args: Any, **kwargs: Any) -> None:
    """Answer the current exception as a ``Fault`` (code 1)."""
    body = str(sys.exc_info()[1])
    _set_response(xmlrpc.client.dumps(xmlrpc.client.Fault(1, body)))


class XMLRPCController:
    """A controller whose exposed methods are XML-RPC procedures (``tools.xmlrpc`` is on
    below it)."""

    _cp_config = {"tools.xmlrpc.on": True}

    @expose
    def default(self, *vpath: Any, **params: Any) -> Any:
        rpcparams, rpcmethod = process_body()
        subhandler: Any = self
        attr = ""
        for attr in str(rpcmethod).split("."):
            subhandler = getattr(subhandler, attr, None)
        if not (subhandler and getattr(subhandler, "exposed", False)):
            # A Fault, through tools.xmlrpc's error handler.
            raise Exception(f'method "{attr}" is not supported')
        body = subhandler(*(vpath + rpcparams), **params)
        request = context.request_or_raise()
        conf = request.toolmaps.get("tools", {}).get("xmlrpc", {})
        respond(body, conf.get("encoding", "utf-8"), conf.get("allow_none", 0))
        return context.response_or_raise().body
