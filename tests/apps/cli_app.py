"""A target for `cherrypy-rs run tests.apps.cli_app:Root` in the CLI tests."""

import threading

import cherrypy_rs as cherrypy

#: Set by /slow while it waits, so a test can signal the server mid-request.
SLOW_STARTED = threading.Event()


class Root:
    @cherrypy.expose
    def index(self):
        return "cli app"

    @cherrypy.expose
    def slow(self, seconds="1"):
        import time

        time.sleep(float(seconds))
        return "slow done"


root = Root()


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"wsgi {environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]


def make_wsgi():
    return wsgi_app


application = wsgi_app
