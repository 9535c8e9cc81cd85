"""Tutorial 4: a site of several objects; each attribute is a branch of the URL tree.

Run with: python examples/tutorial/tut04_complex_site.py   then open http://127.0.0.1:8080/
"""

import cherrypy_rs as cherrypy


def _links(items: list[tuple[str, str]]) -> str:
    return "\n".join(f'<li><a href="{href}">{text}</a></li>' for href, text in items)


class ExtraLinksPage:
    @cherrypy.expose
    def index(self) -> str:
        items = [("http://del.icio.us", "del.icio.us"), ("http://www.cherrypy.dev", "CherryPy")]
        return (
            f"<p>Here are some extra useful links:</p><ul>{_links(items)}</ul>"
            '<p>[<a href="../">Return to links page</a>]</p>'
        )


class LinksPage:
    def __init__(self) -> None:
        self.extra = ExtraLinksPage()

    @cherrypy.expose
    def index(self) -> str:
        items = [
            ("http://www.cherrypy.dev", "The CherryPy Homepage"),
            ("http://www.python.org", "The Python Homepage"),
        ]
        return (
            f"<p>Here are some useful links:</p><ul>{_links(items)}</ul>"
            '<p>You can check out some extra useful links <a href="./extra/">here</a>.</p>'
            '<p>[<a href="../">Return</a>]</p>'
        )


class JokePage:
    @cherrypy.expose
    def index(self) -> str:
        return (
            '<p>"In Python, how do you create a string of random characters?" -- '
            '"Read a Perl file!"</p><p>[<a href="../">Return</a>]</p>'
        )


class HomePage:
    @cherrypy.expose
    def index(self) -> str:
        items = [("/joke/", "A silly joke"), ("/links/", "Useful links")]
        return (
            "<p>Hi, this is the home page! Check out the other fun stuff on this site:</p>"
            f"<ul>{_links(items)}</ul>"
        )


def root() -> HomePage:
    home = HomePage()
    home.joke = JokePage()  # type: ignore[attr-defined]
    home.links = LinksPage()  # type: ignore[attr-defined]
    return home


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
