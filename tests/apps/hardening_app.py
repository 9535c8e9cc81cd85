"""A target for `cherrypy-rs run tests.apps.hardening_app:Root` in the hardening tests."""

import time

import cherrypy_rs as cherrypy


class Root:
    @cherrypy.expose
    def index(self):
        return "hardening app"

    @cherrypy.expose
    def slow(self, seconds="60"):
        cherrypy.log(f"slow handler started for {seconds} s")
        time.sleep(float(seconds))
        return "slow done"

    @cherrypy.expose
    def exit(self):
        cherrypy.engine.exit()
        return "bye"


#: The size of /big's body (64 MiB).
BIG = 64 << 20


class Big:
    @cherrypy.expose
    def index(self):
        return b"b" * BIG

    @cherrypy.expose
    def stream(self):
        """256 MiB in 1 MiB chunks, each a new object."""
        cherrypy.response.headers["Content-Length"] = str(256 << 20)

        def chunks():
            for _ in range(256):
                yield b"s" * (1 << 20)

        return chunks()

    stream._cp_config = {"response.stream": True}


def wsgi_big(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if environ["PATH_INFO"] != "/":
        # The warm-up request: small, so no allocator keeps 64 MiB around for the next.
        return [b"small"]
    return [b"w" * BIG]
