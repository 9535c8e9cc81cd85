"""Conformance app 2: a members' site with sessions, written as CherryPy 18 users do.

File-stored ``tools.sessions``, a login form whose handler keeps the user in the session
and redirects with ``HTTPRedirect(cherrypy.url(...))``, a custom ``Tool`` that sends
anonymous visitors to the login page, ``tools.session_auth`` on an admin area, forms with
repeated fields (``request.params`` lists), cookies set by hand (``response.cookie`` with
max-age / path / secure / httponly), ``tools.expires``, ``tools.etags`` and
``tools.gzip``. Served by tests/apps/run_conformance.py.
"""

from __future__ import annotations

import html
import os
from typing import Any
from urllib.parse import urlencode

import cherrypy
from cherrypy.lib import auth_digest, sessions

PASSWORDS = {"ann": "apple", "bob": "banana"}
LOGIN_FORM = """<html><body>
<form method="post" action="{action}">
<input type="hidden" name="from_page" value="{from_page}">
<p>{message}</p>
User: <input name="username"> Password: <input type="password" name="password">
</form></body></html>"""


def require_user(login_page: str = "/login") -> None:
    """before_handler: anonymous visitors go to the login page, with where they were."""
    if cherrypy.session.get("user") is None:
        target = cherrypy.url(qs=cherrypy.request.query_string)
        raise cherrypy.HTTPRedirect(cherrypy.url(login_page, qs=urlencode({"from_page": target})))


cherrypy.tools.require_user = cherrypy.Tool("before_handler", require_user, priority=60)


def check_admin(username: str, password: str) -> str | None:
    """session_auth's check_username_and_password: None when fine, else the message."""
    if username == "root" and password == "toor":
        return None
    return "Wrong admin login"


class Account:
    """/account: only for logged-in users (the custom tool is on for the whole class)."""

    _cp_config = {"tools.require_user.on": True}

    @cherrypy.expose
    def index(self) -> str:
        user = cherrypy.session["user"]
        visits = cherrypy.session.get("visits", 0) + 1
        cherrypy.session["visits"] = visits
        return f"Hello {html.escape(user)}, visit {visits}"

    @cherrypy.expose
    def prefs(self, colour: str | list[str] | None = None, size: str = "m", **rest: Any) -> str:
        if cherrypy.request.method == "POST":
            colours = colour if isinstance(colour, list) else [colour] if colour else []
            cherrypy.session["colours"] = colours
            cherrypy.session["size"] = size
            raise cherrypy.HTTPRedirect("prefs")
        params = sorted((k, repr(v)) for k, v in cherrypy.request.params.items())
        return (
            f"colours={cherrypy.session.get('colours')} size={cherrypy.session.get('size')}"
            f" params={params} rest={sorted(rest)}"
        )


class Members:
    @cherrypy.expose
    def index(self) -> str:
        return f"member {cherrypy.request.login}"


class Kiosk:
    """/kiosk: a browser-session cookie of its own name, explicit locking."""

    @cherrypy.expose
    def index(self) -> str:
        # Explicit locking: the lock is taken here and held until the session is saved
        # at the end of the request (FileSession refuses to save an unlocked session).
        cherrypy.session.acquire_lock()
        n = cherrypy.session.get("k", 0) + 1
        cherrypy.session["k"] = n
        return f"kiosk {n} locked={cherrypy.session.locked}"

    @cherrypy.expose
    def rotate(self) -> str:
        cherrypy.session.acquire_lock()
        cherrypy.tools.sessions.regenerate()
        return f"rotated, k={cherrypy.session.get('k')}"

    @cherrypy.expose
    def wipe(self) -> str:
        cherrypy.session.acquire_lock()
        cherrypy.session.delete()
        return f"wiped, now {dict(cherrypy.session)}"


class Admin:
    @cherrypy.expose
    def index(self) -> str:
        return f"admin area for {cherrypy.request.login}"


class Root:
    def __init__(self) -> None:
        self.account = Account()
        self.admin = Admin()
        self.members = Members()
        self.kiosk = Kiosk()

    @cherrypy.expose
    def index(self) -> str:
        user = cherrypy.session.get("user")
        return f"Welcome {'back ' + user if user else 'guest'}"

    @cherrypy.expose
    def login(
        self, username: str | None = None, password: str | None = None, from_page: str = "/"
    ) -> str:
        if cherrypy.request.method != "POST":
            return LOGIN_FORM.format(
                action=cherrypy.url("/login"), from_page=html.escape(from_page), message=""
            )
        if PASSWORDS.get(username or "") != password:
            cherrypy.response.status = 401
            return LOGIN_FORM.format(
                action=cherrypy.url("/login"),
                from_page=html.escape(from_page),
                message="Wrong user name or password",
            )
        cherrypy.session.regenerate()
        cherrypy.session["user"] = username
        raise cherrypy.HTTPRedirect(from_page or cherrypy.url("/account/"))

    @cherrypy.expose
    def logout(self) -> None:
        cherrypy.session.clear()
        sessions.expire()
        raise cherrypy.HTTPRedirect(cherrypy.url("/"), 303)

    @cherrypy.expose
    def remember(self, theme: str = "light") -> str:
        cookie = cherrypy.response.cookie
        cookie["theme"] = theme
        cookie["theme"]["path"] = "/"
        cookie["theme"]["max-age"] = 3600
        cookie["theme"]["secure"] = True
        cookie["theme"]["httponly"] = True
        cookie["lang"] = "fr"
        cookie["lang"]["path"] = "/account"
        cookie["lang"]["expires"] = 0
        return f"theme {theme} remembered"

    @cherrypy.expose
    def forget(self) -> str:
        cherrypy.response.cookie["theme"] = ""
        cherrypy.response.cookie["theme"]["path"] = "/"
        cherrypy.response.cookie["theme"]["expires"] = 0
        cherrypy.response.cookie["theme"]["max-age"] = 0
        return "forgotten"

    @cherrypy.expose
    def theme(self) -> str:
        cookies = cherrypy.request.cookie
        names = sorted(cookies.keys())
        theme = cookies["theme"].value if "theme" in cookies else "none"
        return f"theme={theme} cookies={[n for n in names if n != 'session_id']}"

    @cherrypy.expose
    @cherrypy.tools.expires(secs=300)
    def news(self) -> str:
        return "today's news"

    @cherrypy.expose
    @cherrypy.tools.expires(secs=0)
    def live(self) -> str:
        return "live score"

    @cherrypy.expose
    @cherrypy.tools.expires(secs=60, force=True)
    def forced(self) -> str:
        cherrypy.response.headers["Cache-Control"] = "private"
        return "forced"

    @cherrypy.expose
    @cherrypy.tools.etags(autotags=True)
    def catalog(self, page: str = "1") -> str:
        return f"catalog page {page}: " + ", ".join(f"item{i}" for i in range(5))

    @cherrypy.expose
    @cherrypy.tools.gzip(mime_types=["text/*", "application/json"])
    def report(self, rows: str = "200") -> str:
        return "\n".join(f"row {i}: {'x' * (i % 17)}" for i in range(int(rows)))

    @cherrypy.expose
    @cherrypy.tools.gzip()
    @cherrypy.tools.json_out()
    def report_json(self) -> dict[str, Any]:
        return {"rows": list(range(50))}

    @cherrypy.expose
    def greet(self, name: str = "Zo\u00eb") -> str:
        cherrypy.response.headers["X-Greeting"] = f"Gr\u00fc\u00df {name} \u2603"
        cherrypy.response.headers["X-Latin"] = f"ol\u00e9 {name}"
        return "greeted"

    @cherrypy.expose
    def choices(self) -> None:
        raise cherrypy.HTTPRedirect(["/news", "/live"], 300)

    @cherrypy.expose
    def temporary(self) -> None:
        raise cherrypy.HTTPRedirect("catalog?page=9", 307)

    @cherrypy.expose
    def strict(self) -> str:
        cherrypy.response.cookie["csrf"] = "t0k3n"
        cherrypy.response.cookie["csrf"]["samesite"] = "Strict"
        cherrypy.response.cookie["csrf"]["path"] = "/account"
        cherrypy.response.cookie["csrf"]["domain"] = "127.0.0.1"
        cherrypy.response.cookie["csrf"]["comment"] = "anti forgery"
        return "set"

    @cherrypy.expose
    @cherrypy.tools.referer(pattern=r"^https?://127\.0\.0\.1[:/]", accept=True, error=403)
    def from_here(self) -> str:
        return "came from this site"

    @cherrypy.expose
    def counter(self) -> str:
        n = cherrypy.session.get("n", 0) + 1
        cherrypy.session["n"] = n
        return f"n={n} new={cherrypy.session.originalid is None}"


def serve(port: int, workdir: str) -> None:
    store = os.path.join(workdir, "sessions")
    os.makedirs(store, exist_ok=True)
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "log.screen": False,
        }
    )
    template = os.path.join(workdir, "404.html")
    with open(template, "w", encoding="utf-8") as fh:
        fh.write("<h1>Lost?</h1><p>%(status)s</p><p>%(message)s</p>")
    config = {
        "/": {
            "error_page.404": template,
            "tools.sessions.on": True,
            "tools.sessions.storage_class": sessions.FileSession,
            "tools.sessions.storage_path": store,
            "tools.sessions.timeout": 30,
            "tools.sessions.httponly": True,
        },
        "/kiosk": {
            "tools.sessions.name": "kiosk_id",
            "tools.sessions.persistent": False,
            "tools.sessions.path": "/kiosk",
            "tools.sessions.locking": "explicit",
        },
        "/members": {
            "tools.auth_digest.on": True,
            "tools.auth_digest.realm": "members",
            "tools.auth_digest.get_ha1": auth_digest.get_ha1_dict_plain(PASSWORDS),
            "tools.auth_digest.key": "a565c27146791cfb",
            "tools.auth_digest.accept_charset": "UTF-8",
        },
        "/admin": {
            "tools.session_auth.on": True,
            "tools.session_auth.check_username_and_password": check_admin,
        },
    }
    cherrypy.quickstart(Root(), "/", config)
