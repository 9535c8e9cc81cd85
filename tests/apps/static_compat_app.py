"""The static-file app of tests/test_static_compat.py, for CherryPy or cherrypy_rs.

Usage: python tests/apps/static_compat_app.py <cherrypy|cherrypy_rs> PORT SITE_DIR

With ``cherrypy_rs`` the module is installed as ``sys.modules['cherrypy']`` first, so
the same ``import cherrypy`` program runs on both.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    impl, port, site = argv[1], int(argv[2]), argv[3]
    if impl == "cherrypy_rs":
        import cherrypy_rs

        sys.modules["cherrypy"] = cherrypy_rs
    import cherrypy
    from cherrypy.lib import static

    class Root:
        # A HandlerTool as a page handler: config for its path overrides the argument.
        handled = cherrypy.tools.staticfile.handler(filename=site + "/style.css")

        @cherrypy.expose
        def index(self) -> str:
            return "root"

        @cherrypy.expose
        def sliced(self) -> object:
            # serve_file from a handler: tools.encode adds a charset to the response's
            # Content-Type, not to the type the byte-range parts name.
            return static.serve_file(site + "/a.txt")

        # The decorator forms: the tool's config lives on the handler, not in a section.
        @cherrypy.expose
        @cherrypy.tools.staticdir(dir=site, index="index.html")
        def deco(self, *parts: str) -> str:
            return "deco fallback " + "/".join(parts)

        @cherrypy.expose
        @cherrypy.tools.staticfile(filename=site + "/a.txt")
        def decofile(self) -> str:
            return "decofile fallback"

    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "engine.autoreload.on": False,
            "checker.on": False,
            "log.screen": False,
            "environment": "production",
        }
    )
    config = {
        "/static": {
            "tools.staticdir.on": True,
            "tools.staticdir.dir": site,
            "tools.staticdir.index": "index.html",
            "tools.staticdir.content_types": {"mine": "application/x-mine"},
        },
        "/handled": {"tools.staticfile.filename": site + "/a.txt"},
        "/one": {
            "tools.staticfile.on": True,
            "tools.staticfile.filename": site + "/a.txt",
        },
    }
    cherrypy.quickstart(Root(), "/", config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
