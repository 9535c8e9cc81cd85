"""Tutorial 5: pages share a header and a footer through a base class.

Run with: python examples/tutorial/tut05_derived_objects.py   then open http://127.0.0.1:8080/
"""

import cherrypy_rs as cherrypy


class Page:
    title = "Untitled Page"

    def header(self) -> str:
        return f"<html><head><title>{self.title}</title><head><body><h2>{self.title}</h2>"

    def footer(self) -> str:
        return "</body></html>"

    def page(self, content: str) -> str:
        return self.header() + content + self.footer()


class AnotherPage(Page):
    title = "Another Page"

    @cherrypy.expose
    def index(self) -> str:
        return self.page("<p>And this is the amazing second page!</p>")


class HomePage(Page):
    title = "Tutorial 5"

    def __init__(self) -> None:
        self.another = AnotherPage()

    @cherrypy.expose
    def index(self) -> str:
        return self.page(
            "<p>Isn't this exciting? There's <a href=\"./another/\">another page</a>, too!</p>"
        )


def root() -> HomePage:
    return HomePage()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
