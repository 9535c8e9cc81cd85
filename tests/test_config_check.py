"""Strict config keys: what cherrypy_rs would not honour fails at start, naming where
the key is and what to do; what it honours still serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs.config_check import SECURITY_TOOLS, ConfigError

ServeApp = Callable[..., Any]


@pytest.fixture(autouse=True)
def _config_restored(restore_config: None) -> None:
    """Tests here change the global config: put it back afterwards."""


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "ok"


@pytest.mark.parametrize(
    ("section", "pattern"),
    [
        ({"tools.gzipp.on": True}, r"tools\.gzipp\.on: there is no tool 'gzipp'"),
        ({"tools.nosuchtool.on": True}, r"there is no tool 'nosuchtool'"),
        (
            {"tools.trailing_slash.mising": True},
            r"takes no argument 'mising' \(did you mean 'missing'\?\)",
        ),
        ({"tools.trailing_slash.extra_": True}, r"the trailing_slash tool takes no argument"),
        (
            {"request.show_traceback": False},
            r"cherrypy\.request has no attribute 'show_traceback' "
            r"\(did you mean 'show_tracebacks'\?\)",
        ),
        (
            {"response.strem": True},
            r"cherrypy\.response has no attribute 'strem' \(did you mean 'stream'\?\)",
        ),
        (
            {"request.dispatch": "MethodDispatcher"},
            r"request\.dispatch = 'MethodDispatcher' is not a dispatcher",
        ),
        ({"error_page.40": "x.html"}, r"error_page\.40: use an error status"),
        (
            {"server.socket_port": 8080},
            r"server\.\* keys are site-wide: move them to the \[global\]",
        ),
        ({"log.screen": False}, r"log\.screen in an application's \[/\] config"),
        ({"wsgi.pipeline": [("m", object, 1)]}, r"wsgi\.pipeline: each entry must be a"),
        ({"wsgi.nodot": 1}, r"wsgi\.nodot: the wsgi namespace takes 'pipeline'"),
        (
            {"tools.sessions.on": True, "tools.sessions.storage_pathx": "/tmp"},
            r"tools\.sessions\.storage_pathx is not an option of RamSession",
        ),
        (
            {"tools.sessions.on": True, "tools.sessions.storage_type": "nope"},
            r"tools\.sessions\.storage_type = 'nope': use one of ram, file",
        ),
        (
            {"tools.staticdir.on": True, "tools.staticdir.dir": "/tmp", "tools.staticdir.indx": 1},
            r"the staticdir tool takes no argument 'indx' \(did you mean 'index'\?\)",
        ),
        (
            {
                "tools.staticfile.on": True,
                "tools.staticfile.filename": "/etc/hostname",
                "tools.staticfile.precompresed": True,
            },
            r"takes no argument 'precompresed' \(did you mean 'precompressed'\?\)",
        ),
        (
            {"tools.xmlrpc.on": True, "tools.xmlrpc.allownone": True},
            r"the xmlrpc tool takes no argument 'allownone' \(did you mean 'allow_none'\?\)",
        ),
    ],
)
def test_unhonoured_keys_fail_the_mount(
    serve_app: ServeApp, section: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ValueError, match=pattern) as info:
        serve_app(Root(), "/app", {"/": section})
    assert "/app" in str(info.value)


MISSING_SECURITY_TOOLS = [t for t in SECURITY_TOOLS if not hasattr(cherrypy.tools, t)]


@pytest.mark.parametrize("tool", MISSING_SECURITY_TOOLS)
def test_security_tools_are_never_accepted_unenforced(serve_app: ServeApp, tool: str) -> None:
    with pytest.raises(ConfigError) as info:
        serve_app(Root(), "", {"/admin": {f"tools.{tool}.on": True, f"tools.{tool}.realm": "x"}})
    msg = str(info.value)
    assert f"section [/admin]: tools.{tool}.on" in msg
    assert "unprotected" in msg
    assert f"tools.{tool}.*" in msg


def test_security_tool_in_cp_config_found_by_walking_the_tree(serve_app: ServeApp) -> None:
    class Admin:
        @cherrypy.expose
        @cherrypy.config(
            **{"tools.session_auth.on": True, "tools.session_auth.check_username_and_pasword": 1}
        )
        def secret(self) -> str:
            return "secret"

    root = Root()
    root.admin = Admin()  # type: ignore[attr-defined]
    with pytest.raises(
        ConfigError,
        match=r"_cp_config of root\.admin\.secret: tools\.session_auth\.check_username_and_pasword"
        r".*'check_username_and_password'",
    ):
        serve_app(root)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("tools.auth_basic.checkpasword", "'checkpassword'"),
        ("tools.auth_digest.get_ha", "'get_ha1'"),
        ("tools.proxy.remotee", "'remote'"),
    ],
)
def test_a_misspelt_argument_of_a_security_tool_fails(
    serve_app: ServeApp, key: str, hint: str
) -> None:
    tool = key.split(".")[1]
    with pytest.raises(
        ConfigError, match=f"the {tool} tool takes no argument .*did you mean {hint}"
    ):
        serve_app(Root(), "", {"/admin": {f"tools.{tool}.on": True, key: "x"}})


def test_request_dispatch_outside_path_sections_is_refused(serve_app: ServeApp) -> None:
    @cherrypy.config(**{"request.dispatch": cherrypy.dispatch.MethodDispatcher()})
    class Api:
        exposed = True

        def GET(self) -> str:
            return "get"

    root = Root()
    root.api = Api()  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"_cp_config of root\.api: request\.dispatch is only"):
        serve_app(root)
    with pytest.raises(ConfigError, match=r"\[global\]: request\.dispatch is only read"):
        cherrypy.config.update({"request.dispatch": cherrypy.dispatch.MethodDispatcher()})
    # In the application's path section it is honoured.
    del Api._cp_config
    live = serve_app(root, "", {"/api": {"request.dispatch": cherrypy.dispatch.MethodDispatcher()}})
    assert live.get("/api")[2] == b"get"


def test_turning_an_unknown_tool_off_is_accepted(serve_app: ServeApp) -> None:
    live = serve_app(Root(), "", {"/": {"tools.sessions.on": False}})
    assert live.get("/")[2] == b"ok"


def test_unknown_namespace_fails_at_start_and_a_registered_one_is_applied(
    serve_app: ServeApp,
) -> None:
    with pytest.raises(ConfigError, match=r"section \[/\]: db\.scheme: no handler for the 'db'"):
        serve_app(Root(), "", {"/": {"db.scheme": "sqlite"}})
    seen: list[tuple[str, Any]] = []
    cherrypy.config.namespaces["db"] = lambda k, v: seen.append((k, v))
    try:
        cherrypy.config.update({"db.scheme": "sqlite"})
        live = serve_app(Root(), "", {"/": {"db.scheme": "sqlite"}})
        assert live.get("/")[0] == 200
    finally:
        del cherrypy.config.namespaces["db"]
    assert seen == [("scheme", "sqlite")]


def test_app_namespace_registered_after_mount(serve_app: ServeApp) -> None:
    app = cherrypy.Application(Root(), "", {"/": {"raw.value": 1}})
    seen: list[tuple[str, Any]] = []
    app.namespaces["raw"] = lambda k, v: seen.append((k, v))
    app.merge({"/": {"raw.value": 2}})
    live = serve_app(app)
    assert live.get("/")[0] == 200
    assert seen == [("value", 2)]


def test_global_keys_are_checked_at_update() -> None:
    with pytest.raises(ConfigError, match=r"\[global\]: tools\.nosuchtool\.on: there is no tool"):
        cherrypy.config.update({"tools.nosuchtool.on": True})
    assert "tools.nosuchtool.on" not in cherrypy.config
    with pytest.raises(
        ConfigError, match=r"server\.socket_port = '8080' \(str\): it must be an int"
    ):
        cherrypy.config.update({"server.socket_port": "8080"})
    with pytest.raises(ConfigError, match=r"server\.thread_pool = True \(bool\)"):
        cherrypy.config["server.thread_pool"] = True
    # The right types go in; values without a namespace are the application's own.
    cherrypy.config.update({"server.socket_timeout": 3, "luxuryyacht": "throatwobbler"})
    assert cherrypy.config["luxuryyacht"] == "throatwobbler"


def test_a_bad_global_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "site.conf"
    path.write_text("[global]\nserver.socket_port = '8080'\n")
    with pytest.raises(ConfigError, match=re.escape("server.socket_port = '8080' (str)")):
        cherrypy.config.update(str(path))


def test_honoured_keys_serve(serve_app: ServeApp) -> None:
    class Page:
        _cp_config = {"tools.encode.encoding": "latin-1", "response.headers.X-Page": "1"}

        @cherrypy.expose
        def index(self) -> str:
            return "café"

    root = Root()
    root.page = Page()  # type: ignore[attr-defined]
    live = serve_app(
        root,
        "",
        {
            "/": {"request.show_tracebacks": False, "tools.trailing_slash.missing": True},
            "/page": {"error_page.404": str(Path(__file__))},
        },
    )
    status, headers, body = live.get("/page/")
    assert (status, body, headers["X-Page"]) == (200, "café".encode("latin-1"), "1")
    assert headers["Content-Type"] == "text/html;charset=latin-1"


APP_MODULE = """
import cherrypy_rs as cherrypy

class Root:
    @cherrypy.expose
    def index(self):
        return "x"

root = Root()
"""


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (
            "[global]\nserver.socket_port = 80 80\n",
            "site.conf:2 [global] server.socket_port: cannot build the value '80 80'",
        ),
        (
            "[global]\nserver.socket_port = '80'\n",
            "server.socket_port = '80' (str): it must be an int",
        ),
        ("[/]\ntools.auth_basc.on = True\n", "(did you mean 'auth_basic'?)"),
        ("server.socket_port = 80\n", "site.conf:1: config file syntax error: a section header"),
    ],
)
def test_cli_bad_config_is_one_line_and_exit_2(tmp_path: Path, conf: str, message: str) -> None:
    import subprocess
    import sys

    (tmp_path / "fwapp.py").write_text(APP_MODULE)
    (tmp_path / "site.conf").write_text(conf)
    code = "import sys; from cherrypy_rs.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "fwapp:root", "--config", "site.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cherrypy-rs: error: ")
    assert message in lines[0]


def test_the_checker_gives_cherrypys_warnings(tmp_path: Path) -> None:
    class Node:
        @cherrypy.expose
        def index(self) -> str:
            return "x"

    tree = cherrypy.tree
    saved = dict(tree.apps)
    # Other tests' environments (production...) turn the checker off through config.
    cherrypy.config.update({"checker.on": True})
    try:
        tree.apps.clear()
        tree.apps["/blog"] = cherrypy.Application(
            Node(),
            "/blog",
            {
                "/blog/x": {"response.stream": False},
                "/static": {"tools.staticdir.on": True, "tools.staticdir.dir": "rel"},
                "/typed": {"request.show_tracebacks": "yes"},
            },
        )
        tree.apps["/empty"] = cherrypy.Application(Node(), "/empty")
        with pytest.warns(UserWarning) as record:
            cherrypy.checker()
    finally:
        tree.apps.clear()
        tree.apps.update(saved)
    messages = "\n".join(str(w.message) for w in record)
    assert "mounted at '/blog' has config entries that start with its script name" in messages
    assert "dir is a relative path and no root provided." in messages
    assert "'request.show_tracebacks' in section '/typed' is of type 'str'" in messages
    assert "The Application mounted at '/empty' has an empty config." in messages
    # checker.on = False (the production environments) silences it.
    cherrypy.config.update({"checker.on": False})
    assert cherrypy.checker.on is False
    cherrypy.config.update({"checker.on": True})


def test_the_tree_walk_survives_proxies_and_properties(serve_app: ServeApp) -> None:
    class Node:
        req = cherrypy.request  # a proxy whose attributes raise outside a request

        @property
        def costly(self) -> Any:
            raise AssertionError("properties are not run by the config check")

        @cherrypy.expose
        def index(self) -> str:
            return "node"

    root = Root()
    root.node = Node()  # type: ignore[attr-defined]
    root.loop = root  # type: ignore[attr-defined]
    live = serve_app(root)
    assert live.get("/node/")[2] == b"node"


# -- keys that were accepted and did nothing ---------------------------------------------


class TagMiddleware:
    """WSGI middleware that adds ``X-Tag: <tag>`` to every response."""

    def __init__(self, nextapp: Any, tag: str = "mw") -> None:
        self.nextapp = nextapp
        self.tag = tag

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Tag", self.tag)], exc_info)

        return self.nextapp(environ, start)


class Node:
    @cherrypy.expose
    def index(self) -> str:
        return "node"


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        (
            {"/node": {"wsgi.pipeline": [("tag", TagMiddleware)]}},
            r"section \[/node\]: wsgi\.pipeline: the 'wsgi' namespace is the application's",
        ),
        ({"/node": {"log.screen": False}}, r"section \[/node\]: log\.screen: log\.\* keys are"),
        ({"/": {"wsgi.tag.tag": "x"}}, r"wsgi\.tag\.tag: there is no wsgi\.pipeline entry"),
        (
            {"/": {"wsgi.pipeline": [("tag", TagMiddleware)], "wsgi.tag.tagg": "x"}},
            r"wsgi\.tag\.tagg: .* takes no argument 'tagg' \(did you mean 'tag'\?\)",
        ),
        ({"/": {"wsgi.ExceptionTrapper.throws": ()}}, r"no ExceptionTrapper middleware"),
        (
            {"/": {"wsgi.InternalRedirector.recursve": True}},
            r"wsgi\.InternalRedirector\.recursve: .* takes only recursive",
        ),
        ({"/": {"request.handler": lambda: "x"}}, r"request\.handler: the page handler is"),
        ({"/node": {"response.timeout": 5}}, r"response\.timeout: there is no response timeout"),
        ({"/": {"tools.gzip": True}}, r"tools\.gzip: a tool key names an argument"),
        ({"/": {"environment": "production"}}, r"section \[/\]: environment: environments"),
        ({"/node": {"show_tracebacks": False}}, r"show_tracebacks: the key is obsolete"),
        (
            {"/node/": {"response.headers.X-A": "1"}},
            r"section \[/node/\]: a section path ending with '/' matches no request",
        ),
        (
            {"global": {"tools.gzip.on": True}, "/": {}},
            r"section \[global\]: tools\.gzip\.on: an application's \[global\] section is not "
            r"applied by tree\.mount\(\)",
        ),
    ],
)
def test_keys_that_would_do_nothing_fail_at_start(
    serve_app: ServeApp, config: dict[str, Any], pattern: str
) -> None:
    root = Root()
    root.node = Node()  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=pattern):
        serve_app(root, "", config)


def test_app_namespaces_in_cp_config_fail_at_start(serve_app: ServeApp) -> None:
    class Page:
        @cherrypy.expose
        @cherrypy.config(**{"wsgi.pipeline": [("tag", TagMiddleware)]})
        def index(self) -> str:
            return "x"

    root = Root()
    root.page = Page()  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"_cp_config of root\.page\.index: wsgi\.pipeline"):
        serve_app(root, "", {"/": {}})


def test_wsgi_config_in_the_root_section_is_honoured(serve_app: ServeApp) -> None:
    live = serve_app(
        Root(), "", {"/": {"wsgi.pipeline": [("tag", TagMiddleware)], "wsgi.tag.tag": "x"}}
    )
    status, headers, body = live.get("/")
    assert (status, headers["X-Tag"], body) == (200, "x", b"ok")


class Redirecting:
    def __init__(self) -> None:
        self.visits = 0

    @cherrypy.expose
    def index(self) -> str:
        return "ok"

    @cherrypy.expose
    def again(self) -> str:
        self.visits += 1
        if self.visits < 3:
            raise cherrypy.InternalRedirect("/again")
        return f"visits={self.visits}"


def test_internal_redirector_recursive_is_honoured(serve_app: ServeApp) -> None:
    # CherryPy's InternalRedirector(recursive=True) lets a redirect visit a URL again.
    live = serve_app(Redirecting(), "", {"/": {"wsgi.InternalRedirector.recursive": True}})
    assert live.get("/again")[::2] == (200, b"visits=3")
    # Without it, the second visit is CherryPy's 500.
    live = serve_app(Redirecting(), "", {"/": {}})
    assert live.get("/again")[0] == 500


def test_hooks_in_the_global_config_run(serve_app: ServeApp) -> None:
    def tag() -> None:
        cherrypy.response.headers["X-Global-Hook"] = "1"

    cherrypy.config.update({"hooks.before_finalize": tag})
    status, headers, _body = serve_app(Root(), "", {"/": {}}).get("/")
    assert (status, headers["X-Global-Hook"]) == (200, "1")


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("tool.auth_basic.on", r"'auth_basic' is a tool: did you mean 'tools\.auth_basic\.on'"),
        ("sever.socket_timeout", r"did you mean 'server\.socket_timeout'\?"),
        ("cherrypy.server.socket_timeout", r"write 'server\.socket_timeout' \(no 'cherrypy\.'\)"),
        ("autoreload.on", r"did you mean 'engine\.autoreload\.on'\?"),
    ],
)
def test_misspelt_global_namespaces_fail_at_start(
    serve_app: ServeApp, key: str, pattern: str
) -> None:
    cherrypy.config.update({key: True})
    with pytest.raises(ConfigError, match=rf"\[global\]: {re.escape(key)}: .*{pattern}"):
        serve_app(Root(), "", {"/": {}})


def test_dotted_global_values_of_the_application_are_accepted(serve_app: ServeApp) -> None:
    cherrypy.config.update({"db.host": "localhost", "myapp.pages": 3})
    assert serve_app(Root(), "", {"/": {}}).get("/")[0] == 200


def test_a_custom_request_class_fails_at_start(serve_app: ServeApp) -> None:
    class MyRequest(cherrypy._cprequest.Request):
        pass

    app = cherrypy.Application(Root(), "", {"/": {}})
    app.request_class = MyRequest
    with pytest.raises(ConfigError, match=r"app\.request_class = .*MyRequest"):
        serve_app(app)


def test_static_sections_run_tools_of_other_toolboxes(serve_app: ServeApp, tmp_path: Path) -> None:
    # A static section is served by Rust only when nothing else must see the request:
    # a tool of the application's own toolbox, or a request namespace, must.
    from cherrypy_rs._cptools import Tool, Toolbox

    (tmp_path / "a.txt").write_text("secret")
    seen: list[str] = []

    def deny() -> None:
        raise cherrypy.HTTPError(401)

    def note(key: str, value: Any) -> None:
        seen.append(key)

    box = Toolbox("mytools")
    box.deny = Tool("before_handler", deny)  # type: ignore[attr-defined]
    static = {"tools.staticdir.on": True, "tools.staticdir.dir": str(tmp_path)}
    app = cherrypy.Application(
        Root(),
        "",
        {"/locked": {**static, "mytools.deny.on": True}, "/noted": {**static, "note.x": 1}},
    )
    app.toolboxes = {"tools": cherrypy.tools, "mytools": box}
    cherrypy._cprequest.Request.namespaces["note"] = note
    try:
        live = serve_app(app)
        assert live.get("/locked/a.txt")[0] == 401
        assert live.get("/noted/a.txt")[::2] == (200, b"secret")
        assert seen == ["x"]
    finally:
        del cherrypy._cprequest.Request.namespaces["note"]


@pytest.mark.parametrize(
    ("settings", "pattern"),
    [
        ({"nodelay": False}, r"server\.nodelay = False is not supported: TCP_NODELAY is always"),
        ({"protocol_version": "HTTP/1.0"}, r"server\.protocol_version = 'HTTP/1\.0' is not"),
        ({"reverse_dns": True}, r"server\.reverse_dns = True is not supported"),
        ({"wsgi_version": ("u", 0)}, r"server\.wsgi_version = \('u', 0\) is not supported"),
        ({"thread_pool_max": 2, "thread_pool": 4}, r"thread_pool_max = 2 is below"),
        ({"thread_pool_max": 0}, r"server\.thread_pool_max = 0: use an int"),
    ],
)
def test_server_keys_refused_at_values_not_honoured(
    serve_app: ServeApp, settings: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ValueError, match=pattern):
        serve_app(Root(), "", {"/": {}}, **settings)


def test_server_keys_accepted_at_the_values_honoured(serve_app: ServeApp) -> None:
    live = serve_app(
        Root(),
        "",
        {"/": {}},
        nodelay=True,
        protocol_version="HTTP/1.1",
        reverse_dns=False,
        wsgi_version=(1, 0),
        thread_pool_max=-1,
    )
    assert live.get("/")[0] == 200


def test_an_extra_servers_unknown_key_is_named_in_full() -> None:
    from cherrypy_rs._server import Server

    server = Server()
    server.apply("socket.port", 1)
    with pytest.raises(ValueError, match=r"unknown config key server\.socket\.port;"):
        server.extra("socket").validate()


def test_sections_merged_after_the_mount_are_checked_at_start() -> None:
    from cherrypy_rs import context
    from cherrypy_rs._server import Server
    from cherrypy_rs._tree import Tree

    tree = Tree()
    app = tree.mount(Root(), "", {"/": {}})
    app.merge({"/late": {"tools.gzip.on": True, "tools.gzip.levl": 1}})
    server = Server()
    server.tree = tree
    server.global_config = context.site.config
    server.log_error = context.site.log.error
    server.settings.update(socket_host="127.0.0.1", socket_port=0)
    try:
        with pytest.raises(ConfigError, match=r"section \[/late\]: tools\.gzip\.levl"):
            server.start()
    finally:
        server.stop()


def test_engine_signal_keys_need_a_function() -> None:
    with pytest.raises(ValueError, match=r"engine\.SIGHUP = 'graceful': give the function"):
        cherrypy.config.update({"engine.SIGHUP": "graceful"})


def test_obsolete_global_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"log_to_screen: .* use 'log\.screen' instead"):
        cherrypy.config.update({"log_to_screen": False})


def test_a_section_of_urls_another_mount_serves_fails_at_start(serve_app: ServeApp) -> None:
    # The root application's [/admin] asks for authentication; the application mounted
    # at /admin answers those URLs and would never read it.
    admin = cherrypy.Application(Node(), "/admin")
    section = {"tools.auth_basic.on": True, "tools.auth_basic.realm": "r"}
    section["tools.auth_basic.checkpassword"] = lambda realm, user, password: False
    with pytest.raises(ConfigError, match=r"section \[/admin\]: its URLs are served by what is"):
        serve_app(Root(), "", {"/admin": section}, apps={"/admin": admin})


def test_a_global_security_tool_with_a_wsgi_graft_fails_at_start(serve_app: ServeApp) -> None:
    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"open"]

    cherrypy.config.update(
        {
            "tools.auth_basic.on": True,
            "tools.auth_basic.realm": "r",
            "tools.auth_basic.checkpassword": lambda realm, user, password: False,
        }
    )
    with pytest.raises(ConfigError, match=r"tools\.auth_basic\.on: tools run only for Ch"):
        serve_app(Root(), "", {"/": {}}, apps={"/wsgi": wsgi_app})


def test_path_sections_of_a_global_update_must_reach_an_application(
    serve_app: ServeApp,
) -> None:
    auth = {
        "tools.auth_basic.on": True,
        "tools.auth_basic.realm": "r",
        "tools.auth_basic.checkpassword": lambda realm, user, password: False,
    }
    site = {"global": {"request.show_tracebacks": False}, "/": auth}
    cherrypy.config.update(site)
    # Mounted without it, the [/] section (its authentication) would do nothing.
    with pytest.raises(ConfigError, match=r"\[/\] tools\.auth_basic\.on: this section came"):
        serve_app(Root(), "", {"/": {}})
    # Given to the application too (what quickstart does), it applies.
    assert serve_app(Root(), "", site).get("/")[0] == 401


def test_an_application_overriding_its_wsgi_entry_fails_at_start(serve_app: ServeApp) -> None:
    class Wrapped(cherrypy.Application):
        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            raise AssertionError("never called by the server")

    with pytest.raises(ConfigError, match=r"Wrapped\.__call__ overrides the application's"):
        serve_app(Wrapped(Root(), "", {"/": {}}))
