"""An application's own test suite, written for CherryPy 18 with its test helper —
nothing in it names cherrypy_rs. ``tests/test_test_helper.py`` runs it with pytest in
a subprocess whose conftest installs ``sys.modules["cherrypy"] = cherrypy_rs``.
"""

import socket

import cherrypy
from cherrypy.test import helper

#: The ports the test classes were served on (checked closed at the end).
ports_used = []


class Catalog:
    def __init__(self):
        self.items = {"1": "teapot"}

    @cherrypy.expose
    def index(self):
        return "Catalog: " + ", ".join(sorted(self.items.values()))

    @cherrypy.expose
    def item(self, key):
        if key not in self.items:
            raise cherrypy.NotFound()
        return self.items[key]

    @cherrypy.expose
    def add(self, key, name):
        if cherrypy.request.method != "POST":
            raise cherrypy.HTTPError(405)
        self.items[key] = name
        cherrypy.response.cookie["last"] = key
        raise cherrypy.HTTPRedirect("/item/" + key, 303)

    @cherrypy.expose
    def last(self):
        cookie = cherrypy.request.cookie.get("last")
        return cookie.value if cookie else "none"

    @cherrypy.expose
    def fail(self):
        raise ValueError("broken on purpose")


class Shop:
    def __init__(self):
        # Computed outside any request, while the test class sets up its server.
        self.home = cherrypy.url("/home", script_name="/shop")

    @cherrypy.expose
    def index(self):
        return "shop at " + cherrypy.request.script_name

    @cherrypy.expose
    def setup_url(self):
        return self.home


class CatalogTest(helper.CPWebCase):
    @staticmethod
    def setup_server():
        cherrypy.tree.mount(Catalog(), "", {"/": {"tools.encode.encoding": "utf-8"}})

    def test_index(self):
        ports_used.append(self.PORT)
        self.getPage("/")
        self.assertStatus(200)
        self.assertStatus("200 OK")
        self.assertHeader("Content-Type", "text/html;charset=utf-8")
        self.assertBody("Catalog: teapot")
        self.assertInBody("teapot")
        self.assertNotInBody("kettle")
        self.assertMatchesBody(r"Catalog: \w+")

    def test_not_found(self):
        self.getPage("/item/99")
        self.assertStatus(404)
        self.assertErrorPage(404, "The path '/item/99' was not found.")

    def test_post_redirect_and_cookie(self):
        self.getPage("/add", method="POST", body="key=2&name=kettle")
        self.assertStatus(303)
        self.assertHeader("Location", self.base() + "/item/2")
        self.getPage("/last", headers=self.cookies)
        self.assertBody("2")
        self.getPage("/item/2")
        self.assertBody("kettle")

    def test_wrong_method(self):
        self.getPage("/add?key=3&name=cup")
        self.assertStatus((405, 400))

    def test_error_page_has_traceback(self):
        self.getPage("/fail")
        self.assertStatus(500)
        self.assertErrorPage(500, pattern="broken on purpose")

    def test_persistent_connection(self):
        self.set_persistent(True)
        try:
            self.getPage("/")
            self.assertBody("Catalog: teapot")
            first = self.HTTP_CONN.sock
            self.getPage("/item/1")
            self.assertBody("teapot")
            self.assertIs(self.HTTP_CONN.sock, first)
        finally:
            self.set_persistent(False)

    def test_http10(self):
        self.getPage("/", protocol="HTTP/1.0")
        self.assertStatus(200)
        self.assertNoHeader("Transfer-Encoding")


class ShopTest(helper.CPWebCase):
    script_name = "/shop"

    @staticmethod
    def setup_server():
        cherrypy.tree.mount(Shop(), "/shop")

    def test_prefix(self):
        ports_used.append(self.PORT)
        self.assertEqual(self.prefix(), "/shop")
        self.getPage("/")
        self.assertBody("shop at /shop")
        self.assertEqual(self.base(), f"http://127.0.0.1:{self.PORT}/shop")

    def test_url_computed_during_setup_names_the_port(self):
        self.getPage("/setup_url")
        self.assertBody(self.base() + "/home")


def test_servers_stopped_after_each_class():
    assert len(ports_used) == 2
    assert cherrypy.engine.state == cherrypy.engine.states.EXITING
    for port in ports_used:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            continue
        raise AssertionError(f"port {port} still accepts connections after teardown_class")
