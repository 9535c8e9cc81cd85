"""An application that attaches its own handler to ``cherrypy.log.access_log`` (a file
named by $ACCESS_HANDLER_FILE), as CherryPy applications do."""

from __future__ import annotations

import logging
import os

import cherrypy_rs as cherrypy

_handler = logging.FileHandler(os.environ["ACCESS_HANDLER_FILE"])
_handler.setFormatter(logging.Formatter("handler: %(message)s"))
cherrypy.log.access_log.addHandler(_handler)


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "logged"
