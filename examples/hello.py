"""The smallest cherrypy_rs application.

Run with: python examples/hello.py   (then open http://127.0.0.1:8080/)
"""

import cherrypy_rs as cherrypy


class Root:
    @cherrypy.expose
    def index(self):
        return "Hello, world!"

    @cherrypy.expose
    def greet(self, name="stranger", *args):
        return f"Hello {name} {args}"


if __name__ == "__main__":
    cherrypy.quickstart(Root(), "/", {"global": {"server.socket_port": 8080}})
