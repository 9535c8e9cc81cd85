"""``cherrypy.tools``: the default toolbox, one line per built-in tool.

The order of a point's hooks comes from the priorities given here (as in CherryPy:
``encode`` 70 before ``gzip`` 80 at their points, ``trailing_slash`` 60).
"""

from __future__ import annotations

from .lib import cptools, encoding, sessionauth, sessions, static
from .toolbox import HandlerTool, Tool, Toolbox

tools = Toolbox("tools")

tools.log_tracebacks = Tool("before_error_response", cptools.log_traceback)
tools.log_headers = Tool("before_error_response", cptools.log_request_headers)
tools.trailing_slash = Tool("before_handler", cptools.trailing_slash, priority=60)
tools.encode = Tool("before_handler", encoding.encode, priority=70)
tools.staticdir = HandlerTool(static.staticdir)
tools.staticfile = HandlerTool(static.staticfile)
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
