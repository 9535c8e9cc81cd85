"""Configuration: the global config (dicts, "global" sections, INI files of Python
literals), environments, application config sections and ``_cp_config``, the
``request.*`` / ``response.*`` namespaces, and the errors bad config gives.

Expected values were recorded against CherryPy 18.10.0, except where cherrypy_rs is
deliberately stricter (config files are never evaluated; app config sections and
``server.*`` keys are validated).
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import serve

Live = Any  # cherrypy_rs.testing.LiveServer
ServeApp = Callable[..., Live]

KEYS = (
    "my_key",
    "app_key",
    "obj_key",
    "environment",
    "request.show_tracebacks",
    "request.show_mismatched_params",
)


@pytest.fixture(autouse=True)
def _config_restored(restore_config: None) -> None:
    """Every test here may change the global config: put it back afterwards."""


class Sub:
    _cp_config = {"obj_key": "sub-obj"}

    @cherrypy.expose
    def page(self) -> str:
        return view()

    @cherrypy.expose
    def deep(self) -> str:
        return view()

    deep._cp_config = {"app_key": "deep-obj"}  # type: ignore[attr-defined]


class Root:
    _cp_config = {"obj_key": "root-obj", "app_key": "root-obj"}

    def __init__(self) -> None:
        self.sub = Sub()

    @cherrypy.expose
    def index(self) -> str:
        return view()

    @cherrypy.expose
    def attrs(self) -> str:
        req = cherrypy.request
        return repr(
            (
                req.login,
                req.show_tracebacks,
                req.show_mismatched_params,
                cherrypy.response.stream,
            )
        )

    @cherrypy.expose
    def one(self, a: str) -> str:
        return a

    @cherrypy.expose
    def boom(self) -> str:
        raise ValueError("kaboom")


def view() -> str:
    config = cherrypy.request.config
    return repr({k: config.get(k) for k in KEYS})


def get(live: Live, path: str) -> requests.Response:
    return requests.get(live.url(path), timeout=10, allow_redirects=False)


def values(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.content
    result: dict[str, Any] = ast.literal_eval(resp.text)
    return result


# -- the global config -----------------------------------------------------------------


def test_update_flat_dict(serve_app: ServeApp) -> None:
    cherrypy.config.update({"my_key": 1, "my_other": "x"})
    assert (cherrypy.config["my_key"], cherrypy.config["my_other"]) == (1, "x")
    live = serve_app(Root())
    assert values(get(live, "/"))["my_key"] == 1


def test_update_global_section() -> None:
    cherrypy.config.update({"global": {"my_key": 2}})
    assert cherrypy.config["my_key"] == 2
    assert "global" not in cherrypy.config


def test_setitem() -> None:
    cherrypy.config["my_key"] = 3
    assert cherrypy.config.get("my_key") == 3


def test_reset_restores_the_defaults() -> None:
    cherrypy.config.update({"my_key": 1, "tools.trailing_slash.on": False})
    cherrypy.config.reset()
    assert dict(cherrypy.config) == {
        "tools.log_tracebacks.on": True,
        "tools.log_headers.on": True,
        "tools.trailing_slash.on": True,
        "tools.encode.on": True,
    }


CONFIG_FILE = """\
[global]
my.int = 4
my.neg = -1
my.float = 1.5
my.str = "hello world"
my.str2 = 'single'
my.list = [1, "two", 3.0]
my.tuple = (1, 2)
my.dict = {"a": 1, "b": [True, None]}
my.bool = True
my.none = None
response.headers.X-Powered-By = "file"

[/]
app_key = "not global"
"""


def test_update_from_a_file(tmp_path: Path, serve_app: ServeApp) -> None:
    path = tmp_path / "site.conf"
    path.write_text(CONFIG_FILE)
    cherrypy.config.update(str(path))
    config = cherrypy.config
    got = {k[3:]: v for k, v in config.items() if k.startswith("my.")}
    assert got == {
        "int": 4,
        "neg": -1,
        "float": 1.5,
        "str": "hello world",
        "str2": "single",
        "list": [1, "two", 3.0],
        "tuple": (1, 2),
        "dict": {"a": 1, "b": [True, None]},
        "bool": True,
        "none": None,
    }
    # Only the [global] section goes into the global config; key case is kept.
    assert "app_key" not in config
    assert config["response.headers.X-Powered-By"] == "file"
    live = serve_app(Root())
    resp = get(live, "/")
    assert resp.headers["X-Powered-By"] == "file"
    assert values(resp)["app_key"] == "root-obj"


def test_file_values_are_built_like_reprconf(tmp_path: Path) -> None:
    path = tmp_path / "built.conf"
    path.write_text(
        "[global]\n"
        "my.mul = 6 * 7\n"
        "my.complex = 3+2j\n"
        "my.path = os.path.join('/srv', 'x')\n"
        "my.code = cherrypy.lib.httputil.response_codes[404][0]\n"
        "my.disp = cherrypy.dispatch.MethodDispatcher()\n"
        "my.cls = cherrypy.lib.reprconf.Parser\n"
        "my.kw = dict(a=1, **{'a': 2, 'b': 3})\n"
        "my.neg = -(2 ** 3) // 3\n"
        "[DEFAULT]\n"
        'base = "/srv"\n'
        'my.interp = %(base)s + "/sub"\n'
    )
    cherrypy.config.update(str(path))
    got = {k[3:]: v for k, v in cherrypy.config.items() if k.startswith("my.")}
    assert isinstance(got.pop("disp"), cherrypy.dispatch.MethodDispatcher)
    assert got == {
        "mul": 42,
        "complex": 3 + 2j,
        "path": "/srv/x",
        "code": "Not Found",
        "cls": cherrypy.lib.reprconf.Parser,
        "kw": {"a": 1, "b": 3},
        "neg": -3,
        "interp": "/srv/sub",
    }


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("hello", "the name 'hello' is neither a module nor a builtin"),
        ("[x for x in (1, 2)]", "ListComp expressions are not allowed"),
        ("(lambda: 1)()", "Lambda expressions are not allowed"),
        ("1 < 2", "Compare expressions are not allowed"),
        ("[1, 2", "is not a Python expression"),
        ("os.nothing_here", "has no attribute 'nothing_here'"),
    ],
)
def test_unbuildable_values_name_file_line_and_key(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "bad.conf"
    path.write_text(f"[global]\nmy.ok = 1\n\n[/sub]\nmy.bad = {line}\n")
    with pytest.raises(ValueError) as info:
        cherrypy.config.update(str(path))
    msg = str(info.value)
    assert msg.startswith(f"{path}:5 [/sub] my.bad: cannot build the value {line!r}: "), msg
    assert why in msg
    assert "\n" not in msg
    assert "my.ok" not in cherrypy.config


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("my.key = 1\n", ":1: config file syntax error: a section header"),
        ("[global]\nmy.key = 1\nmy.key = 2\n", ":3: config file syntax error: the key 'my.key'"),
        ("[global]\nnot a key line\n", ":2: config file syntax error: not a 'key = value'"),
        ("[global]\nmy.s = '%d'\n", ":2 [global] my.s: InterpolationSyntaxError"),
    ],
)
def test_config_file_syntax_errors_are_one_line(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "syntax.conf"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        cherrypy.config.update(str(path))
    msg = str(info.value)
    assert msg.startswith(str(path)) and why in msg, msg
    assert "\n" not in msg


def test_an_open_file_and_sections_without_global(tmp_path: Path) -> None:
    # As CherryPy: a global config without [global] keeps its sections as dicts.
    cherrypy.config.update(io.StringIO("[my]\nvalue = dict(**{'foo': 'bar'})\n"))
    assert cherrypy.config["my"] == {"value": {"foo": "bar"}}


def test_config_decorator_sets_cp_config(serve_app: ServeApp) -> None:
    @cherrypy.config(**{"response.headers.X-Deco": "cls", "app_key": "cls"})
    class Decorated:
        @cherrypy.expose
        @cherrypy.config(app_key="handler")
        def index(self) -> str:
            return view()

        @cherrypy.config(**{"response.headers.X-Deco": "page"})
        @cherrypy.expose
        def page(self) -> str:
            return view()

    assert Decorated._cp_config == {"response.headers.X-Deco": "cls", "app_key": "cls"}
    live = serve_app(Decorated())
    resp = get(live, "/")
    assert (resp.headers["X-Deco"], values(resp)["app_key"]) == ("cls", "handler")
    resp = get(live, "/page")
    assert (resp.headers["X-Deco"], values(resp)["app_key"]) == ("page", "cls")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.conf"
    with pytest.raises(OSError, match=re.escape(str(missing))):
        cherrypy.config.update(str(missing))


# -- environments ----------------------------------------------------------------------


def test_production_environment_sets_its_keys() -> None:
    cherrypy.config.update({"environment": "production"})
    config = cherrypy.config
    assert {k: config[k] for k in cherrypy.config.environments["production"]} == {
        "engine.autoreload.on": False,
        "checker.on": False,
        "tools.log_headers.on": False,
        "request.show_tracebacks": False,
        "request.show_mismatched_params": False,
        "log.screen": False,
    }
    assert config["environment"] == "production"
    assert cherrypy.log.screen is False


def test_explicit_keys_win_over_the_environment() -> None:
    cherrypy.config.update({"environment": "production", "request.show_tracebacks": True})
    assert cherrypy.config["request.show_tracebacks"] is True
    assert cherrypy.config["request.show_mismatched_params"] is False


def test_staging_environment() -> None:
    cherrypy.config.update({"environment": "staging"})
    assert cherrypy.config["request.show_tracebacks"] is False
    assert "log.screen" not in cherrypy.config


def test_production_environment_over_http(serve_app: ServeApp) -> None:
    cherrypy.config.update({"global": {"environment": "production"}})
    live = serve_app(Root())
    assert get(live, "/attrs").text == "(None, False, False, False)"
    resp = get(live, "/one")
    assert resp.status_code == 404
    assert b"<p>Nothing matches the given URI</p>" in resp.content
    assert b'<pre id="traceback"></pre>' in resp.content
    resp = get(live, "/boom")
    assert (resp.status_code, resp.headers["Content-Length"]) == (500, "825")
    assert b'<pre id="traceback"></pre>' in resp.content


def test_development_defaults(serve_app: ServeApp) -> None:
    live = serve_app(Root())
    assert get(live, "/attrs").text == "(None, True, True, False)"
    resp = get(live, "/one")
    assert b"<p>Missing parameters: a</p>" in resp.content


# -- application config ----------------------------------------------------------------


APP_CONFIG = {
    "/": {"app_key": "root-path", "my_key": "root-path"},
    "/sub": {"app_key": "sub-path"},
    "/sub/page": {"my_key": "page-path"},
}


def test_app_config_sections_by_path(serve_app: ServeApp) -> None:
    cherrypy.config.update({"my_key": "global", "obj_key": "global"})
    live = serve_app(Root(), "", APP_CONFIG)
    base = dict.fromkeys(KEYS)
    # The path config overrides the root's _cp_config; both override the global config.
    assert values(get(live, "/")) == {
        **base,
        "my_key": "root-path",
        "app_key": "root-path",
        "obj_key": "root-obj",
    }
    assert values(get(live, "/sub/page")) == {
        **base,
        "my_key": "page-path",
        "app_key": "sub-path",
        "obj_key": "sub-obj",
    }
    # A handler's _cp_config overrides the path config of the sections above it.
    assert values(get(live, "/sub/deep")) == {
        **base,
        "my_key": "root-path",
        "app_key": "deep-obj",
        "obj_key": "sub-obj",
    }


def test_app_config_from_a_file(tmp_path: Path, serve_app: ServeApp) -> None:
    path = tmp_path / "app.conf"
    path.write_text('[/]\napp_key = "root-file"\n\n[/sub]\napp_key = "sub-file"\nmy_key = [1, 2]\n')
    live = serve_app(Root(), "/mnt", str(path))
    assert values(get(live, "/mnt/"))["app_key"] == "root-file"
    got = values(get(live, "/mnt/sub/page"))
    assert (got["app_key"], got["my_key"]) == ("sub-file", [1, 2])


def test_global_section_of_an_app_config_is_not_request_config(serve_app: ServeApp) -> None:
    live = serve_app(Root(), "", {"global": {"my_key": "app-global"}, "/": {"app_key": "x"}})
    got = values(get(live, "/"))
    assert (got["my_key"], got["app_key"]) == (None, "x")
    assert "my_key" not in cherrypy.config


def test_request_and_response_namespaces(serve_app: ServeApp) -> None:
    cherrypy.config.update({"response.headers.X-Global": "g"})
    live = serve_app(
        Root(),
        "",
        {
            "/": {
                "request.login": "custom",
                "request.show_tracebacks": False,
                "response.headers.X-App": "app",
                "response.stream": False,
            },
            "/sub": {"response.headers.X-App": "sub", "response.headers.X-Sub": "1"},
        },
    )
    resp = get(live, "/attrs")
    assert resp.text == "('custom', False, True, False)"
    assert (resp.headers["X-Global"], resp.headers["X-App"]) == ("g", "app")
    assert "X-Sub" not in resp.headers
    resp = get(live, "/sub/page")
    assert (resp.headers["X-App"], resp.headers["X-Sub"]) == ("sub", "1")
    # The headers are also on error pages for paths under the section.
    resp = get(live, "/sub/nope")
    assert resp.status_code == 404
    assert (resp.headers["X-Global"], resp.headers["X-App"]) == ("g", "sub")
    assert b'<pre id="traceback"></pre>' in resp.content


def test_response_stream_from_config(serve_app: ServeApp) -> None:
    live = serve_app(Root(), "", {"/attrs": {"response.stream": True}})
    assert get(live, "/attrs").text == "(None, True, True, True)"


def test_response_stream_with_a_str_body_is_chunked(serve_app: ServeApp) -> None:
    live = serve_app(Root(), "", {"/attrs": {"response.stream": True}})
    resp = get(live, "/attrs")
    assert resp.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in resp.headers


def test_flat_app_config_is_an_error() -> None:
    with pytest.raises(ValueError) as info:
        cherrypy.Application(Root(), "", {"tools.gzip.on": True, "my_key": 1})
    msg = str(info.value)
    assert "{'/': {" in msg
    assert "'my_key'" in msg
    assert "'tools.gzip.on'" in msg


def test_mixed_app_config_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"\{'/': \{"):
        cherrypy.Application(Root(), "", {"/": {"my_key": 1}, "my_other": 2})


def test_app_config_section_must_start_with_a_slash() -> None:
    with pytest.raises(ValueError, match=r"section 'sub' must be 'global' or start with '/'"):
        cherrypy.Application(Root(), "", {"sub": {"my_key": 1}})


def test_bad_app_config_fails_the_mount(serve_app: ServeApp) -> None:
    with pytest.raises(ValueError, match="section 'static'"):
        serve_app(Root(), "", {"static": {"tools.staticdir.on": True}})


# -- server.* keys ---------------------------------------------------------------------


def test_unknown_server_key_fails_at_start(serve_app: ServeApp) -> None:
    with pytest.raises(ValueError, match=r"unknown config key server\.socket_hots"):
        serve_app(Root(), socket_hots="127.0.0.1")


def test_workers_need_a_master_process(serve_app: ServeApp) -> None:
    with pytest.raises(ValueError, match=r"server\.workers = 2: worker processes are started"):
        serve_app(Root(), workers=2)


def test_a_missing_certificate_fails_at_start_naming_it(serve_app: ServeApp) -> None:
    with pytest.raises(ValueError, match=r"server\.ssl_certificate = cert\.pem: no such file"):
        serve_app(Root(), ssl_certificate="cert.pem")


def test_server_keys_without_effect_are_accepted(serve_app: ServeApp) -> None:
    live = serve_app(Root(), nodelay=True, thread_pool_max=-1, thread_pool=2)
    assert get(live, "/").status_code == 200


# -- values built as CherryPy's reprconf builds them -------------------------------------

UNREPR_CASES = [
    "-1234",
    "6*3",
    "3+2j",
    "'11' + '22' + \"33\"",
    "[1, (2, 3), {'a': None}]",
    "{'k': [True, False]}",
    "os.path.join(sys.prefix, 'hello.py')",
    "cherrypy.lib.httputil.response_codes[404]",
    "dict(foo='buzz', **{'foo': 'bar', 'x': 1})",
    "str(42)",
    "-(7)",
    "None",
]


def test_unrepr_matches_cherrypy() -> None:
    """The same expressions built by CherryPy 18.10's reprconf (in its own process)
    and by ours give the same values."""
    import json
    import subprocess
    import sys

    pytest.importorskip("cherrypy")
    script = (
        "import json, sys, cherrypy\n"
        "from cherrypy.lib.reprconf import unrepr\n"
        "print(json.dumps([repr(unrepr(s)) for s in json.loads(sys.argv[1])]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(UNREPR_CASES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    theirs = json.loads(proc.stdout)
    ours = [repr(cherrypy.lib.reprconf.unrepr(s)) for s in UNREPR_CASES]
    assert ours == theirs


def test_tree_namespace_mounts_applications() -> None:
    app = cherrypy.Application(Root(), "/mounted-by-config")
    saved = dict(cherrypy.tree.apps)
    try:
        cherrypy.config.update({"tree.blog": app})
        assert cherrypy.tree.apps["/mounted-by-config"] is app
        cherrypy.config.update({"tree.more": {"/other": app}})
        assert cherrypy.tree.apps["/other"] is app
        with pytest.raises(ValueError, match=r"tree\.bad = 5: give a cherrypy\.Application"):
            cherrypy.config.update({"tree.bad": 5})
        with pytest.raises(ValueError, match=r"neither a cherrypy\.Application nor a WSGI"):
            cherrypy.config.update({"tree.bad": {"/x": "not an app"}})
    finally:
        cherrypy.tree.apps.clear()
        cherrypy.tree.apps.update(saved)


def test_server_keys_that_cannot_be_honoured_are_not_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``server.instance`` (another HTTP server object) is refused, CherryPy's built-in
    server by name accepted; ``server.statistics`` is ignored with a warning at start;
    both are fine at CherryPy's defaults."""
    from cherrypy_rs._server import ConfigError, Server

    class Root:
        @cherrypy.expose
        def index(self) -> str:
            return "hi"

    with pytest.raises(ConfigError, match=r"server\.instance is not supported"):
        with serve(Root(), instance=object()):
            pass
    logged: list[str] = []
    monkeypatch.setattr(Server, "_warn", lambda self, message: logged.append(message))
    with serve(Root(), instance="cherrypy._cpwsgi_server.CPWSGIServer") as live:
        assert live.get("/")[2] == b"hi"
    with serve(Root(), instance=None, statistics=False) as live:
        assert live.get("/")[2] == b"hi"
    assert logged == []
    with serve(Root(), statistics=True) as live:
        assert live.get("/")[2] == b"hi"
    assert any("server.statistics is ignored" in m for m in logged), logged


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("engine.bogus", r"engine\.bogus: the engine has no attribute 'bogus'"),
        ("engine.autoreload.frequncy", r"autoreload plugin \(Autoreloader\) has no attribute"),
        ("checker.bogus", r"checker\.bogus: the checker has no option 'bogus'"),
    ],
)
@pytest.mark.usefixtures("restore_config")
def test_engine_and_checker_keys_that_would_do_nothing_are_refused(key: str, message: str) -> None:
    """CherryPy sets any attribute these namespaces are given; a misspelt one would be
    set and never read, so it is an error naming the key."""
    with pytest.raises(ValueError, match=message):
        cherrypy.config.update({key: 5})
    frequency = cherrypy.engine.autoreload.frequency
    try:
        cherrypy.config.update({"engine.autoreload.frequency": 7, "checker.on": True})
        assert cherrypy.engine.autoreload.frequency == 7
    finally:
        cherrypy.engine.autoreload.frequency = frequency
