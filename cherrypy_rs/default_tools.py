"""``cherrypy.tools``: the default toolbox, one line per built-in tool.

The order of a point's hooks comes from the priorities given here (as in CherryPy:
``encode`` 70 before ``gzip`` 80 at their points, ``trailing_slash`` 60).
"""

from __future__ import annotations

from .lib import (
    auth_basic,
    auth_digest,
    caching,
    cpstats,
    cptools,
    encoding,
    jsontools,
    proxy,
    sessionauth,
    sessions,
    static,
    xmlrpcutil,
)
from .toolbox import ErrorTool, HandlerTool, Tool, Toolbox

tools = Toolbox("tools")

tools.allow = Tool("on_start_resource", cptools.allow)
tools.response_headers = Tool("on_start_resource", cptools.response_headers)
tools.log_tracebacks = Tool("before_error_response", cptools.log_traceback)
tools.log_headers = Tool("before_error_response", cptools.log_request_headers)
tools.log_hooks = Tool("on_end_request", cptools.log_hooks, priority=100)
tools.err_redirect = ErrorTool(cptools.redirect)
tools.etags = Tool("before_finalize", cptools.validate_etags, priority=75)
tools.decode = Tool("before_request_body", encoding.decode)
tools.encode = Tool("before_handler", encoding.ResponseEncoder, priority=70)
tools.gzip = Tool("before_finalize", encoding.gzip, priority=80)
tools.staticdir = HandlerTool(static.staticdir)
tools.staticfile = HandlerTool(static.staticfile)
tools.xmlrpc = xmlrpcutil.XMLRPCTool()
tools.caching = caching.CachingTool("before_handler", caching.get, "caching")
tools.expires = Tool("before_finalize", caching.expires)
tools.ignore_headers = Tool("before_request_body", cptools.ignore_headers)
tools.referer = Tool("before_request_body", cptools.referer)
tools.trailing_slash = Tool("before_handler", cptools.trailing_slash, priority=60)
tools.flatten = Tool("before_finalize", cptools.flatten)
tools.accept = Tool("on_start_resource", cptools.accept)
tools.redirect = Tool("on_start_resource", cptools.redirect)
tools.autovary = Tool("on_start_resource", cptools.autovary, priority=0)
tools.json_in = Tool("before_request_body", jsontools.json_in, priority=30)
tools.json_out = Tool("before_handler", jsontools.json_out, priority=30)
tools.params = Tool("before_handler", cptools.convert_params, priority=15)
tools.cpstats = cpstats.StatsTool()
tools.proxy = Tool("before_request_body", proxy.proxy, priority=30)
tools.auth_basic = Tool("before_handler", auth_basic.basic_auth, priority=1)
tools.auth_digest = Tool("before_handler", auth_digest.digest_auth, priority=1)
tools.sessions = sessions.SessionTool()
tools.session_auth = sessionauth.SessionAuthTool(sessionauth.session_auth)

#: The built-in tools that the request path runs inline (no hook machinery) while they
#: are the objects registered above; replacing one in the toolbox makes it a hook.
INLINE = {
    name: getattr(tools, name)
    for name in (
        "log_tracebacks",
        "log_headers",
        "trailing_slash",
        "encode",
        "json_out",
        "staticdir",
        "staticfile",
    )
}
