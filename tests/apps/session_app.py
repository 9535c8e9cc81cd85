"""A session counter app for the process tests (two servers, --workers): the store
comes from the environment (SESSION_STORE = "ram" | "redis", SESSION_REDIS_URL)."""

from __future__ import annotations

import os

import cherrypy_rs as cherrypy
from cherrypy_rs.lib.sessions import RamSession, RedisSession

_STORE = os.environ.get("SESSION_STORE", "ram")


class Root:
    _cp_config = {
        "tools.sessions.on": True,
        "tools.sessions.storage_class": RedisSession if _STORE == "redis" else RamSession,
        **({"tools.sessions.url": os.environ["SESSION_REDIS_URL"]} if _STORE == "redis" else {}),
    }

    @cherrypy.expose
    def index(self) -> str:
        count = cherrypy.session.get("count", 0) + 1
        cherrypy.session["count"] = count
        return f"{count} {os.getpid()}"

    @cherrypy.expose
    def hold(self) -> str:
        """Touch the session, then stop this process dead while it holds the lock."""
        cherrypy.session["held"] = True
        os.kill(os.getpid(), 9)
        return "unreachable"
