"""Forms, redirects and errors: POSTed fields become keyword arguments, HTTPRedirect and
HTTPError answer as in CherryPy.

Run with: python examples/forms_and_errors.py   (then open http://127.0.0.1:8080/)
"""

import html

import cherrypy_rs as cherrypy

NOTES = []


class Root:
    @cherrypy.expose
    def index(self):
        items = "".join(f"<li>{html.escape(n)}</li>" for n in NOTES)
        return (
            f"<ul>{items}</ul><form method='post' action='add'>"
            "<input name='note'><button>Add</button></form>"
        )

    @cherrypy.expose
    def add(self, note):
        if cherrypy.request.method != "POST":
            raise cherrypy.HTTPError(405, "Post the form to add a note.")
        if not note.strip():
            raise cherrypy.HTTPError(400, "A note cannot be empty.")
        NOTES.append(note)
        raise cherrypy.HTTPRedirect("/")


if __name__ == "__main__":
    cherrypy.quickstart(Root(), "/", {"global": {"environment": "production"}})
