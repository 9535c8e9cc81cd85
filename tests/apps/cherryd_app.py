"""Mounted when imported, as ``cherryd -i`` expects (``python -m cherrypy_rs -i``)."""

import cherrypy_rs as cherrypy


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "mounted by an import"


cherrypy.tree.mount(Root(), "/")
