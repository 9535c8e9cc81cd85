"""``cherrypy.lib.xmlrpcutil``: XML-RPC over CherryPy handlers (``tools.xmlrpc`` and
``XMLRPCController``).

An ``XMLRPCController`` subclass is the target of the URL; its ``default`` handler reads
the method name and parameters from the request body, calls the exposed method of that
name (dotted names walk attributes) and answers with an XML-RPC response. An error is
answered by ``on_error`` (``tools.xmlrpc``, the error response): a 200 with a Fault.
"""

from __future__ import annotations

import sys
from typing import Any

from .. import context
from ..helper import expose
from ..toolbox import ErrorTool


def process_body() -> tuple[tuple[Any, ...], str]:
    """``(params, method name)`` from the request body (an unparsable body gives
    ``(('ERROR PARAMS',), 'ERRORMETHOD')``, which answers with a Fault)."""
    # Lazy: xmlrpc.client imports http.client, email and ssl (~3 MiB in every process);
    # only XML-RPC requests need it (here, in respond() and in on_error()).
    from xmlrpc.client import loads as xmlrpc_loads

    try:
        return xmlrpc_loads(context.request_or_raise().body.read() or b"")  # type: ignore[return-value]
    except Exception:
        return ("ERROR PARAMS",), "ERRORMETHOD"


def patched_path(path: str) -> str:
    """``path`` with a trailing slash and without a leading ``/RPC2``."""
    if not path.endswith("/"):
        path += "/"
    if path.startswith("/RPC2/"):
        path = path[5:]
    return path


def _set_response(body: str) -> None:
    response = context.response_or_raise()
    data = body.encode("utf-8")
    response.status = "200 OK"
    response.body = data
    response.headers["Content-Type"] = "text/xml"
    response.headers["Content-Length"] = len(data)


def respond(body: Any, encoding: str = "utf-8", allow_none: int = 0) -> None:
    """Answer with ``body`` as an XML-RPC method response (a ``Fault`` as a fault)."""
    # Lazy: see process_body().
    from xmlrpc.client import Fault as XMLRPCFault
    from xmlrpc.client import dumps as xmlrpc_dumps

    if not isinstance(body, XMLRPCFault):
        body = (body,)
    _set_response(
        xmlrpc_dumps(body, methodresponse=True, encoding=encoding, allow_none=bool(allow_none))
    )


def on_error(*args: Any, **kwargs: Any) -> None:
    """``tools.xmlrpc``: the error response is a Fault naming the exception."""
    # Lazy: see process_body().
    from xmlrpc.client import Fault as XMLRPCFault
    from xmlrpc.client import dumps as xmlrpc_dumps

    _set_response(xmlrpc_dumps(XMLRPCFault(1, str(sys.exc_info()[1]))))


class XMLRPCTool(ErrorTool):
    """``tools.xmlrpc``: ``on_error`` as the error response; its config arguments are
    the ones ``XMLRPCController`` reads for the reply (``encoding``, ``allow_none``), so
    a misspelt one is refused at start instead of never being read."""

    def __init__(self) -> None:
        super().__init__(on_error, "xmlrpc")

    def arguments(self) -> tuple[set[str], bool]:
        return {"on", "priority", "encoding", "allow_none"}, False


class XMLRPCController:
    """A controller whose methods are called by XML-RPC (``tools.xmlrpc`` is on for
    it). Its exposed methods receive the RPC's parameters after the URL's."""

    _cp_config = {"tools.xmlrpc.on": True}

    @expose
    def default(self, *vpath: Any, **params: Any) -> Any:
        rpcparams, rpcmethod = process_body()
        subhandler: Any = self
        attr = ""
        for attr in str(rpcmethod).split("."):
            subhandler = getattr(subhandler, attr, None)
        if not (subhandler and getattr(subhandler, "exposed", False)):
            # A Fault, not a 404 (answered by on_error).
            raise Exception(f'method "{attr}" is not supported')
        body = subhandler(*(vpath + rpcparams), **params)
        conf = context.request_or_raise().toolmaps.get("tools", {}).get("xmlrpc", {})
        respond(body, conf.get("encoding", "utf-8"), conf.get("allow_none", 0))
        return context.response_or_raise().body
