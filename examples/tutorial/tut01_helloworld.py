"""Tutorial 1: a single page.

Run with: python examples/tutorial/tut01_helloworld.py   then open http://127.0.0.1:8080/
"""

import cherrypy_rs as cherrypy


class HelloWorld:
    """The application's root: ``index`` answers ``/``."""

    @cherrypy.expose
    def index(self) -> str:
        return "Hello world!"


def root() -> HelloWorld:
    return HelloWorld()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
