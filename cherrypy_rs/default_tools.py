"""``cherrypy.tools``: the default toolbox, one line per built-in tool.

The order of a point's hooks comes from the priorities given here (as in CherryPy:
``encode`` 70 before ``gzip`` 80 at their points, ``trailing_slash`` 60).
"""

from __future__ import annotations

from .lib import auth_basic, auth_digest, cptools, encoding, proxy, sessionauth, sessions, static
from .toolbox import HandlerTool, Tool, Toolbox

tools = Toolbox("tools")

tools.log_tracebacks = Tool("before_error_response", cptools.log_traceback)
tools.log_headers = Tool("before_error_response", cptools.log_request_headers)
tools.trailing_slash = Tool("before_handler", cptools.trailing_slash, priority=60)
tools.encode = Tool("before_handler", encoding.encode, priority=70)
tools.staticdir = HandlerTool(static.staticdir)
tools.staticfile = HandlerTool(static.staticfile)
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
        "staticdir",
        "staticfile",
    )
}
