"""Tutorial 6: ``default`` answers the paths no attribute matches (``/users/remi``).

Run with: python examples/tutorial/tut06_default_method.py   then open http://127.0.0.1:8080/
"""

import cherrypy_rs as cherrypy

PEOPLE = {
    "remi": "Remi Delon, CherryPy lead developer",
    "hendrik": "Hendrik Mans, CherryPy co-developer & crazy German",
    "lorenzo": "Lorenzo Lamas, famous actor and singer!",
}


class UsersPage:
    @cherrypy.expose
    def index(self) -> str:
        names = {"remi": "Remi Delon", "hendrik": "Hendrik Mans", "lorenzo": "Lorenzo Lamas"}
        return "".join(f'<a href="./{key}">{name}</a><br/>' for key, name in names.items())

    @cherrypy.expose
    def default(self, user: str) -> str:
        return f'{PEOPLE.get(user, "Unknown user. :-(")} (<a href="./">back</a>)'


def root() -> UsersPage:
    return UsersPage()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
