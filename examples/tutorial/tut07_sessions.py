"""Tutorial 7: a hit counter kept in the session (``tools.sessions``).

Run with: python examples/tutorial/tut07_sessions.py   then open http://127.0.0.1:8080/
"""

import cherrypy_rs as cherrypy


class HitCounter:
    _cp_config = {"tools.sessions.on": True}

    @cherrypy.expose
    def index(self) -> str:
        count = cherrypy.session.get("count", 0) + 1
        cherrypy.session["count"] = count
        return (
            f"During your current session, you've viewed this page {count} times! "
            "Your life is a patio of fun!"
        )


def root() -> HitCounter:
    return HitCounter()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
