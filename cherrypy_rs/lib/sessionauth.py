"""``tools.session_auth`` (``cherrypy.lib.cptools.session_auth`` / ``SessionAuth``): a
login form on top of ``tools.sessions``.

Every path under it needs a user name in the session (``session_key``); without one
the login screen is the answer. ``.../do_login`` (POST ``username``, ``password``,
``from_page``) checks the credentials with ``check_username_and_password`` (a
function returning an error message, or None when they are right) and redirects back;
``.../do_logout`` (POST) forgets the user. Any attribute of ``SessionAuth`` may be given
as a tool argument (``tools.session_auth.check_username_and_password = check``).

Unlike CherryPy, a successful login gives the session a new id (the id an attacker
may have planted before the login is then worthless), and the login screen escapes
what it echoes back.
"""

from __future__ import annotations

from typing import Any

from .. import context
from .._html import escape as _escape_html
from ..errors import HTTPError, HTTPRedirect
from ..helper import url
from ..toolbox import HandlerTool
from .session_store import log
from .sessions import current, set_response_cookie


class SessionAuth:
    """Assert that the user is logged in (one instance per request)."""

    session_key = "username"
    debug = False

    def check_username_and_password(self, username: str, password: str) -> str | None:
        """An error message when the credentials are wrong, else None."""
        return None

    def anonymous(self) -> str | None:
        """A temporary user name for anonymous users (None: they must log in)."""
        return None

    def on_login(self, username: str) -> None:
        pass

    def on_logout(self, username: str) -> None:
        pass

    def on_check(self, username: str) -> None:
        pass

    def login_screen(
        self, from_page: str = "..", username: str = "", error_msg: str = "", **kwargs: Any
    ) -> bytes:
        """The login form (bytes)."""
        return f"""<html><body>
Message: {_escape_html(error_msg or "")}
<form method="post" action="do_login">
    Login: <input type="text" name="username" value="{_escape_html(username or "")}" size="10" />
    <br />
    Password: <input type="password" name="password" size="10" />
    <br />
    <input type="hidden" name="from_page" value="{_escape_html(from_page or "")}" />
    <br />
    <input type="submit" />
</form>
</body></html>""".encode()

    def do_login(
        self, username: str = "", password: str = "", from_page: str = "..", **kwargs: Any
    ) -> bool:
        """Check the credentials: the login screen again (True) or a redirect."""
        response = context.response_or_raise()
        error_msg = self.check_username_and_password(username, password)
        if error_msg:
            response.body = self.login_screen(from_page, username, error_msg)
            response.headers.pop("Content-Length", None)
            return True
        context.request_or_raise().login = username
        sess = current()
        # A new id on login: a session id known before (fixation) no longer works.
        sess.regenerate()
        cookie_args = context.request_or_raise().__dict__.get("_session_cookie")
        if cookie_args:
            set_response_cookie(**cookie_args)
        sess[self.session_key] = username
        self.on_login(username)
        raise HTTPRedirect(from_page or "/")

    def do_logout(self, from_page: str = "..", **kwargs: Any) -> bool:
        """Forget the user and redirect to ``from_page``."""
        sess = current()
        username = sess.get(self.session_key)
        sess[self.session_key] = None
        if username:
            context.request_or_raise().login = None
            self.on_logout(username)
        raise HTTPRedirect(from_page)

    def do_check(self) -> bool | None:
        """Set ``request.login`` from the session, or answer with the login screen."""
        sess = current()
        request = context.request_or_raise()
        response = context.response_or_raise()
        username = sess.get(self.session_key)
        if not username:
            sess[self.session_key] = username = self.anonymous()
            self._debug_message("No session[username], trying anonymous")
        if not username:
            response.body = self.login_screen(url(qs=request.query_string))
            response.headers.pop("Content-Length", None)
            self._debug_message("No username: the login screen")
            return True
        request.login = username
        self.on_check(username)
        return None

    def _debug_message(self, message: str) -> None:
        if self.debug:
            log(message)

    def run(self) -> bool | None:
        """Route login_screen / do_login / do_logout, else check the session."""
        request = context.request_or_raise()
        response = context.response_or_raise()
        path = request.path_info
        if path.endswith("login_screen"):
            response.body = self.login_screen()
            return True
        if path.endswith("do_login") or path.endswith("do_logout"):
            if request.method != "POST":
                response.headers["Allow"] = "POST"
                raise HTTPError(405)
            if path.endswith("do_login"):
                return self.do_login(**request.params)
            return self.do_logout(**request.params)
        return self.do_check()


def session_auth(**kwargs: Any) -> bool | None:
    """``tools.session_auth``: run ``SessionAuth`` with ``kwargs`` as its attributes."""
    sa = SessionAuth()
    for key, value in kwargs.items():
        setattr(sa, key, value)
    return sa.run()


class SessionAuthTool(HandlerTool):
    """``tools.session_auth``: a handler tool (answers instead of the page handler when
    the user must log in)."""

    def arguments(self) -> tuple[set[str], bool]:
        names = {n for n in dir(SessionAuth) if not n.startswith("_")}
        return names | {"on", "priority"}, False
