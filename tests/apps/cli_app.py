"""A target for `cherrypy-rs run tests.apps.cli_app:Root` in the CLI tests."""

import time

import cherrypy_rs as cherrypy

#: Logged (to stderr) when /slow starts waiting: a test signals the server once it
#: has seen this line, the request then being in flight.
SLOW_STARTED = "slow request started"


class Root:
    @cherrypy.expose
    def index(self):
        return "cli app"

    @cherrypy.expose
    def slow(self, seconds="1"):
        cherrypy.log(SLOW_STARTED)
        time.sleep(float(seconds))
        return "slow done"


root = Root()


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"wsgi {environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]


def make_wsgi():
    return wsgi_app


application = wsgi_app
