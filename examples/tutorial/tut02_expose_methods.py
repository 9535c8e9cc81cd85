"""Tutorial 2: every exposed method is a page.

Run with: python examples/tutorial/tut02_expose_methods.py   then open http://127.0.0.1:8080/
"""

import cherrypy_rs as cherrypy


class HelloWorld:
    @cherrypy.expose
    def index(self) -> str:
        link = '<a href="show_msg">important message</a>'
        return f"We have an {link} for you!"

    @cherrypy.expose
    def show_msg(self) -> str:
        return "Hello world!"


def root() -> HelloWorld:
    return HelloWorld()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
