"""Log in and out with a session: the session gets a new id on login (so an id planted
before the login is worthless) and is deleted on logout; the cookie is HttpOnly and
SameSite=Lax.

Run with: python examples/sessions_login.py (then open http://127.0.0.1:8080/ and log
in as alice / wonderland). With several workers, keep the sessions in Redis: set
SESSION_REDIS_URL=redis://127.0.0.1:6379/0 and serve ``sessions_login:root`` from the
examples directory with ``cherrypy-rs run`` and ``--workers 4``.
"""

from __future__ import annotations

import hmac
import html
import os

import cherrypy_rs as cherrypy
from cherrypy_rs.lib import sessions

#: user -> password. A real application stores salted hashes (hashlib.scrypt).
USERS = {"alice": "wonderland"}

LOGIN_FORM = """<html><body>{message}
<form method="post" action="login">
  User: <input name="username"> Password: <input name="password" type="password">
  <input type="submit" value="Log in">
</form></body></html>"""


def _store() -> dict[str, object]:
    url = os.environ.get("SESSION_REDIS_URL")
    if url:
        return {"tools.sessions.storage_class": sessions.RedisSession, "tools.sessions.url": url}
    return {}


class Root:
    _cp_config = {
        "tools.sessions.on": True,
        "tools.sessions.httponly": True,
        "tools.sessions.samesite": "Lax",
        "tools.sessions.timeout": 30,
        **_store(),
    }

    @cherrypy.expose
    def index(self) -> str:
        user = cherrypy.session.get("user")
        if user is None:
            return LOGIN_FORM.format(message="Please log in.")
        visits = cherrypy.session["visits"] = cherrypy.session.get("visits", 0) + 1
        return (
            f"<html><body>Hello {html.escape(user)}, visit {visits}."
            '<form method="post" action="logout"><input type="submit" value="Log out">'
            "</form></body></html>"
        )

    @cherrypy.expose
    def login(self, username: str = "", password: str = "") -> str:
        if cherrypy.request.method != "POST":
            cherrypy.response.headers["Allow"] = "POST"
            raise cherrypy.HTTPError(405)
        expected = USERS.get(username)
        if expected is None or not hmac.compare_digest(expected, password):
            return LOGIN_FORM.format(message="Wrong user name or password.")
        # A new session id on login: the one the browser had before is now dead.
        cherrypy.tools.sessions.regenerate()
        cherrypy.session["user"] = username
        raise cherrypy.HTTPRedirect("/")

    @cherrypy.expose
    def logout(self) -> None:
        if cherrypy.request.method != "POST":
            cherrypy.response.headers["Allow"] = "POST"
            raise cherrypy.HTTPError(405)
        cherrypy.session.delete()
        sessions.expire()
        raise cherrypy.HTTPRedirect("/")


def root() -> Root:
    return Root()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
