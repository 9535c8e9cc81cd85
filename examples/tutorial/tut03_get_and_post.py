"""Tutorial 3: query-string and form parameters become arguments.

Run with: python examples/tutorial/tut03_get_and_post.py   then open http://127.0.0.1:8080/
"""

from __future__ import annotations

import cherrypy_rs as cherrypy

FORM = """
<form action="greetUser" method="GET">
What is your name?
<input type="text" name="name" />
<input type="submit" />
</form>"""


class WelcomePage:
    @cherrypy.expose
    def index(self) -> str:
        return FORM

    @cherrypy.expose
    def greetUser(self, name: str | None = None) -> str:
        if name:
            return f"Hey {name}, what's up?"
        if name is None:
            return 'Please enter your name <a href="./">here</a>.'
        return 'No, really, enter your name <a href="./">here</a>.'


def root() -> WelcomePage:
    return WelcomePage()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
