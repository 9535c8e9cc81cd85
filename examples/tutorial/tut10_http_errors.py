"""Tutorial 10: HTTP errors raised by handlers, a custom error page from a file, and
tracebacks turned on and off.

Run with: python examples/tutorial/tut10_http_errors.py   then open http://127.0.0.1:8080/
"""

import os

import cherrypy_rs as cherrypy

CUSTOM_403 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "custom_error.html")


class HTTPErrorDemo:
    _cp_config = {"error_page.403": CUSTOM_403}

    @cherrypy.expose
    def index(self) -> str:
        toggle = "off" if cherrypy.request.show_tracebacks else "on"
        codes = "".join(f'<li><a href="/error?code={c}">{c}</a></li>' for c in (400, 401, 402, 500))
        return (
            f'<html><body><p>Toggle tracebacks <a href="toggleTracebacks">{toggle}</a></p>'
            '<p><a href="/doesNotExist">Click me; I\'m a broken link!</a></p>'
            '<p><a href="/error?code=403">Use a custom error page from a file.</a></p>'
            f"<p>These errors are explicitly raised by the application:</p><ul>{codes}</ul>"
            '<p><a href="/messageArg">You can also set the response body when you raise an '
            "error.</a></p></body></html>"
        )

    @cherrypy.expose
    def toggleTracebacks(self) -> None:
        shown = cherrypy.request.show_tracebacks
        cherrypy.config.update({"request.show_tracebacks": not shown})
        raise cherrypy.HTTPRedirect("/")

    @cherrypy.expose
    def error(self, code: str) -> None:
        raise cherrypy.HTTPError(status=code)

    @cherrypy.expose
    def messageArg(self) -> None:
        raise cherrypy.HTTPError(
            500,
            message="If you construct an HTTPError with a 'message' argument, it wil be "
            "placed on the error page (underneath the status line by default).",
        )


def root() -> HTTPErrorDemo:
    return HTTPErrorDemo()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
