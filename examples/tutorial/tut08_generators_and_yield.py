"""Tutorial 8: a handler that yields its page in pieces.

Run with: python examples/tutorial/tut08_generators_and_yield.py   then open http://127.0.0.1:8080/
"""

from collections.abc import Iterator

import cherrypy_rs as cherrypy

USERS = ["Remi", "Carlos", "Hendrik", "Lorenzo Lamas"]


class GeneratorDemo:
    @cherrypy.expose
    def index(self) -> Iterator[str]:
        yield "<html><body><h2>Generators rule!</h2>"
        yield "<h3>List of users:</h3>"
        yield from (f"{user}<br/>" for user in USERS)
        yield "</body></html>"


def root() -> GeneratorDemo:
    return GeneratorDemo()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
