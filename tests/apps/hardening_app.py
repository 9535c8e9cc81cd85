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
