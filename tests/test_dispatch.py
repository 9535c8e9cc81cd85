"""The object dispatcher, argument matching, and the request/response objects a page
handler sees, with the statuses, headers and bodies CherryPy 18 gives.

Expected values were recorded against CherryPy 18.10.0 (see tests/test_compat.py for
the live comparison).
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests

import cherrypy_rs as cherrypy

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HTML = "text/html;charset=utf-8"

Live = Any  # cherrypy_rs.testing.LiveServer
ServeApp = Callable[..., Live]


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def message(body: bytes) -> str:
    """The <p> message of a CherryPy error page."""
    found = re.search(rb"<p>(.*?)</p>", body, re.S)
    assert found is not None, body
    return found.group(1).decode()


def traceback_of(body: bytes) -> str:
    found = re.search(rb'<pre id="traceback">(.*?)</pre>', body, re.S)
    assert found is not None, body
    return found.group(1).decode()


def raw(live: Live, data: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Send raw request bytes on a new connection; read until the server closes.

    Returns the status line, the header list and the body.
    """
    with socket.create_connection((live.host, live.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = [(k, v) for k, _, v in (line.partition(": ") for line in lines)]
    return status, headers, body


# -- the application -------------------------------------------------------------------


class Sub:
    @cherrypy.expose
    def index(self) -> str:
        return "sub index"

    @cherrypy.expose
    def page(self) -> str:
        return "sub page"

    @cherrypy.expose
    def urls(self) -> str:
        return dump(
            {
                "plain": cherrypy.url(),
                "x": cherrypy.url("x"),
                "abs_qs": cherrypy.url("/x", qs="a=1"),
                "qs_dict": cherrypy.url(qs={"a": 1}),
                "relative": cherrypy.url("x", relative=True),
                "relative_up": cherrypy.url("/top", relative=True),
                "server": cherrypy.url("x", relative="server"),
            }
        )


class Catch:
    @cherrypy.expose
    def default(self, *args: str, **kwargs: Any) -> str:
        return dump({"args": list(args), "kwargs": kwargs, "is_index": cherrypy.request.is_index})


class ExposedObj:
    """Exposed through the ``exposed = True`` class attribute."""

    exposed = True

    def __call__(self, *args: str, **kwargs: Any) -> str:
        return dump({"args": list(args), "kwargs": kwargs})

    def hidden(self) -> str:
        return "never served"


@cherrypy.expose
class ExposedClass:
    def __call__(self) -> str:
        return "class exposed by decorator"


class Quiet:
    @cherrypy.expose
    def one(self, a: str) -> str:
        return a


class Band:
    """CherryPy's documented ``_cp_dispatch`` example."""

    def __init__(self) -> None:
        self.albums = Album()

    def _cp_dispatch(self, vpath: list[str]) -> Any:
        if len(vpath) == 1:
            cherrypy.request.params["name"] = vpath.pop()
            return self
        if len(vpath) == 3:
            cherrypy.request.params["artist"] = vpath.pop(0)
            vpath.pop(0)
            cherrypy.request.params["title"] = vpath.pop(0)
            return self.albums
        return vpath

    @cherrypy.expose
    def index(self, name: str) -> str:
        return f"About {name}..."


class Album:
    @cherrypy.expose
    def index(self, artist: str, title: str) -> str:
        return f"About {title} by {artist}..."


@cherrypy.popargs("year", "month")
class Blog:
    @cherrypy.expose
    def index(self, year: str | None = None, month: str | None = None) -> str:
        return dump({"year": year, "month": month, "params": cherrypy.request.params})

    @cherrypy.expose
    def create(self) -> str:
        return "create"


class Item:
    _cp_dispatch = cherrypy.popargs("item_id")

    @cherrypy.expose
    def index(self, item_id: str) -> str:
        return f"item {item_id}"

    @cherrypy.expose
    def edit(self, item_id: str) -> str:
        return f"edit {item_id}"


class DayHandler:
    @cherrypy.expose
    def index(self, year: str, month: str, day: str) -> str:
        return f"day {year}-{month}-{day}"


@cherrypy.popargs("day", handler=DayHandler())
class MonthHandler:
    @cherrypy.expose
    def index(self, year: str, month: str) -> str:
        return f"month {year}-{month}"


@cherrypy.popargs("month", handler=MonthHandler())
class YearHandler:
    @cherrypy.expose
    def index(self, year: str) -> str:
        return f"year {year}"


@cherrypy.popargs("year", handler=YearHandler())
class Archive:
    @cherrypy.expose
    def index(self) -> str:
        return "archive"


class Greeter:
    def __init__(self, name: str) -> None:
        self.name = name

    @cherrypy.expose
    def index(self) -> str:
        return dump({"name": self.name, "params": cherrypy.request.params})


@cherrypy.popargs("name", handler=Greeter)
class Greetings:
    pass


class Root:
    def __init__(self) -> None:
        self.sub = Sub()
        self.nosl = Sub()
        self.catch = Catch()
        self.exposedobj = ExposedObj()
        self.exposedclass = ExposedClass()
        self.quiet = Quiet()
        self.bands = Band()
        self.blog = Blog()
        self.item = Item()
        self.archive = Archive()
        self.greetings = Greetings()

    @cherrypy.expose
    def index(self) -> str:
        return "root index"

    @cherrypy.expose
    def feed_xml(self) -> str:
        return "feed"

    @cherrypy.expose()
    def paren(self) -> str:
        return "paren"

    @cherrypy.expose("single_alias")
    def named(self) -> str:
        return "named"

    @cherrypy.expose(["a_one", "a.two"])
    def multi(self) -> str:
        return "multi"

    @cherrypy.expose(alias="kw_alias")
    def kwaliased(self) -> str:
        return "kwaliased"

    @cherrypy.expose(alias=["kw1", "kw2"])
    def kwaliased_list(self) -> str:
        return "kwaliased_list"

    def private(self) -> str:
        return "never served"

    @cherrypy.expose
    def args(self, *args: str) -> str:
        return dump(list(args))

    @cherrypy.expose
    def kw(self, **kwargs: Any) -> str:
        return dump(kwargs)

    @cherrypy.expose
    def one(self, a: str) -> str:
        return dump({"a": a})

    @cherrypy.expose
    def opt(self, a: str, b: str = "dflt") -> str:
        return dump({"a": a, "b": b})

    @cherrypy.expose
    def nothing(self) -> str:
        return "nothing"

    @cherrypy.expose
    def inner_typeerror(self) -> str:
        raise TypeError("raised inside the handler")

    @cherrypy.expose
    def adder(self, x: str) -> str:
        return x + 1  # type: ignore[operator,no-any-return]  # TypeError inside

    @cherrypy.expose
    def conf(self) -> str:
        config = cherrypy.request.config
        return dump({k: config.get(k) for k in ("my.key", "my.global")})


ROOT_CONFIG = {
    "/quiet": {"request.show_mismatched_params": False},
    "/nosl": {"tools.trailing_slash.on": False},
}


@pytest.fixture
def live(serve_app: ServeApp) -> Live:
    return serve_app(Root(), "", ROOT_CONFIG)


def get(live: Live, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("allow_redirects", False)
    return requests.get(live.url(path), timeout=10, **kwargs)


def post(live: Live, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("allow_redirects", False)
    return requests.post(live.url(path), data=data, timeout=10, **kwargs)


def check(resp: requests.Response, status: int, body: bytes | str) -> None:
    if isinstance(body, str):
        body = body.encode()
    assert (resp.status_code, resp.content) == (status, body)


# -- the object tree ---------------------------------------------------------------------


def test_index(live: Live) -> None:
    resp = get(live, "/")
    check(resp, 200, "root index")
    assert resp.reason == "OK"
    assert resp.headers["Content-Type"] == HTML
    assert resp.headers["Content-Length"] == "10"
    assert resp.headers["Server"] == "CherryPy/18.10.0"
    assert "Date" in resp.headers
    check(get(live, "/index"), 200, "root index")


def test_nested_objects(live: Live) -> None:
    check(get(live, "/sub/"), 200, "sub index")
    check(get(live, "/sub/index"), 200, "sub index")
    check(get(live, "/sub/page"), 200, "sub page")
    check(get(live, "/sub//page"), 200, "sub page")


def test_unknown_paths_are_404(live: Live) -> None:
    resp = get(live, "/nope")
    assert (resp.status_code, resp.reason) == (404, "Not Found")
    assert message(resp.content) == "The path '/nope' was not found."
    assert resp.headers["Content-Type"] == HTML
    resp = get(live, "/sub/nope/deeper")
    assert resp.status_code == 404
    assert message(resp.content) == "The path '/sub/nope/deeper' was not found."


def test_unexposed_method_is_404(live: Live) -> None:
    resp = get(live, "/private")
    assert resp.status_code == 404
    assert message(resp.content) == "The path '/private' was not found."


def test_default_gets_the_remaining_atoms(live: Live) -> None:
    assert get(live, "/catch").json() == {"args": [], "kwargs": {}, "is_index": False}
    assert get(live, "/catch/").json() == {"args": [], "kwargs": {}, "is_index": True}
    assert get(live, "/catch/a/b?x=1&x=2&y=3").json() == {
        "args": ["a", "b"],
        "kwargs": {"x": ["1", "2"], "y": "3"},
        "is_index": False,
    }
    assert get(live, "/catch/a/b/").json()["is_index"] is True


def test_punctuation_becomes_underscore(live: Live) -> None:
    for path in ("/feed.xml", "/feed-xml", "/feed_xml"):
        check(get(live, path), 200, "feed")


def test_exposed_class_attribute_object(live: Live) -> None:
    expected = {"args": [], "kwargs": {}}
    assert get(live, "/exposedobj").json() == expected
    assert get(live, "/exposedobj/").json() == expected
    # The unexposed method is never served: its name becomes a positional argument.
    assert get(live, "/exposedobj/hidden?k=v").json() == {"args": ["hidden"], "kwargs": {"k": "v"}}


def test_expose_on_a_class(live: Live) -> None:
    check(get(live, "/exposedclass"), 200, "class exposed by decorator")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/paren", "paren"),
        ("/named", "named"),
        ("/single_alias", "named"),
        ("/multi", "multi"),
        ("/a_one", "multi"),
        ("/a_two", "multi"),
        ("/a.two", "multi"),
        ("/kwaliased", "kwaliased"),
        ("/kw_alias", "kwaliased"),
        ("/kwaliased_list", "kwaliased_list"),
        ("/kw1", "kwaliased_list"),
        ("/kw2", "kwaliased_list"),
    ],
)
def test_expose_forms_and_aliases(live: Live, path: str, body: str) -> None:
    check(get(live, path), 200, body)


def test_expose_sets_exposed_and_aliases_attributes() -> None:
    assert Root.paren.exposed is True  # type: ignore[attr-defined]
    assert Root.single_alias is Root.named  # type: ignore[attr-defined]
    assert Root.a_two is Root.multi  # type: ignore[attr-defined]
    assert Root.kw_alias is Root.kwaliased  # type: ignore[attr-defined]
    assert ExposedClass.exposed is True  # type: ignore[attr-defined]


# -- arguments -------------------------------------------------------------------------


def test_positional_args_decode_percent_2f_inside_an_atom(live: Live) -> None:
    assert get(live, "/args/a%2Fb/c%20d").json() == ["a/b", "c d"]
    assert get(live, "/args/a%2fb").json() == ["a/b"]
    assert get(live, "/args/a+b/%C3%A9").json() == ["a+b", "\u00e9"]


def test_query_kwargs(live: Live) -> None:
    assert get(live, "/kw?a=1&b=x+y&c=%C3%A9").json() == {"a": "1", "b": "x y", "c": "\u00e9"}
    assert get(live, "/kw?a=1&a=2&b=3").json() == {"a": ["1", "2"], "b": "3"}
    assert get(live, "/kw?a&b=").json() == {"a": "", "b": ""}
    assert get(live, "/kw?a=1;b=2").json() == {"a": "1", "b": "2"}


def test_form_kwargs(live: Live) -> None:
    assert post(live, "/kw", "a=1&a=2&b=%C3%A9+x", headers=FORM).json() == {
        "a": ["1", "2"],
        "b": "\u00e9 x",
    }
    # Query string and form body merge; a key in both gives a list, query values first.
    assert post(live, "/kw?a=q&c=3", "a=b&d=4", headers=FORM).json() == {
        "a": ["q", "b"],
        "c": "3",
        "d": "4",
    }
    # Bodies of other types are not turned into parameters.
    resp = post(live, "/kw", b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert resp.json() == {}


def test_undecodable_form_body_is_400(live: Live) -> None:
    resp = post(live, "/kw", "a=%FF", headers=FORM)
    assert resp.status_code == 400
    assert message(resp.content) == (
        "The request entity could not be decoded. The following charsets were attempted: ['utf-8']"
    )


def test_form_body_charset_from_content_type(live: Live) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"}
    resp = post(live, "/kw", "a=%FF", headers=headers)
    assert (resp.status_code, resp.json()) == (200, {"a": "\u00ff"})


def test_undecodable_query_string_is_404(live: Live) -> None:
    resp = get(live, "/kw?a=%FF")
    assert resp.status_code == 404
    assert message(resp.content).startswith(
        "The given query string could not be processed. Query strings for this resource "
        "must be encoded with "
    )


def test_undecodable_query_string_message(live: Live) -> None:
    resp = get(live, "/kw?a=%FF")
    assert message(resp.content) == (
        "The given query string could not be processed. Query strings for this resource "
        "must be encoded with 'utf8'."
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "msg"),
    [
        ("GET", "/one", None, 404, "Missing parameters: a"),
        ("POST", "/one", "b=1", 404, "Missing parameters: a"),
        ("GET", "/one/1/2", None, 404, "Nothing matches the given URI"),
        ("GET", "/nothing/extra", None, 404, "Nothing matches the given URI"),
        ("GET", "/one/1?b=2", None, 404, "Unexpected query string parameters: b"),
        ("GET", "/?x=1", None, 404, "Unexpected query string parameters: x"),
        ("POST", "/one/1", "b=2", 400, "Unexpected body parameters: b"),
        ("POST", "/nothing", "a=1", 400, "Unexpected body parameters: a"),
        ("GET", "/one/1?a=2", None, 404, "Multiple values for parameters: a"),
        # A key sent in the body counts as a body parameter, even if also in the query.
        ("POST", "/one/1?a=2", "a=3", 400, "Multiple values for parameters: a"),
        ("POST", "/one/1", "a=2", 400, "Multiple values for parameters: a"),
    ],
)
def test_mismatched_params(
    live: Live, method: str, path: str, body: str | None, status: int, msg: str
) -> None:
    resp = requests.request(method, live.url(path), data=body, headers=FORM, timeout=10)
    assert resp.status_code == status
    assert message(resp.content) == msg
    assert "HTTPError" in traceback_of(resp.content)


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "/one/1", None, {"a": "1"}),
        ("GET", "/one?a=1", None, {"a": "1"}),
        ("POST", "/one", "a=1", {"a": "1"}),
        ("POST", "/one?a=1", "a=2", {"a": ["1", "2"]}),
        ("GET", "/opt/1", None, {"a": "1", "b": "dflt"}),
        ("GET", "/opt/1/2", None, {"a": "1", "b": "2"}),
        ("GET", "/opt/1?b=2", None, {"a": "1", "b": "2"}),
    ],
)
def test_matching_params(
    live: Live, method: str, path: str, body: str | None, expected: dict[str, Any]
) -> None:
    resp = requests.request(method, live.url(path), data=body, headers=FORM, timeout=10)
    assert (resp.status_code, resp.json()) == (200, expected)


def test_non_form_body_to_handler_without_params(live: Live) -> None:
    check(post(live, "/nothing", b"hello", headers={"Content-Type": "text/plain"}), 200, "nothing")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "msg"),
    [
        ("GET", "/quiet/one", None, 404, "Nothing matches the given URI"),
        ("GET", "/quiet/one/1?b=2", None, 404, "Nothing matches the given URI"),
        ("GET", "/quiet/one/1?a=2", None, 404, "Nothing matches the given URI"),
        ("POST", "/quiet/one/1", "b=2", 400, "Bad request syntax or unsupported method"),
        ("POST", "/quiet/one/1", "a=2", 400, "Bad request syntax or unsupported method"),
    ],
)
def test_mismatched_params_hidden_by_config(
    live: Live, method: str, path: str, body: str | None, status: int, msg: str
) -> None:
    resp = requests.request(method, live.url(path), data=body, headers=FORM, timeout=10)
    assert (resp.status_code, message(resp.content)) == (status, msg)


@pytest.mark.parametrize("path", ["/inner_typeerror", "/adder?x=1", "/adder/1"])
def test_type_error_inside_a_correctly_called_handler_is_500(live: Live, path: str) -> None:
    resp = get(live, path)
    assert (resp.status_code, resp.reason) == (500, "Internal Server Error")
    assert message(resp.content) == (
        "The server encountered an unexpected condition which prevented it from "
        "fulfilling the request."
    )
    assert "TypeError" in traceback_of(resp.content)


# -- trailing slash --------------------------------------------------------------------


def test_index_without_slash_redirects_301(live: Live) -> None:
    resp = get(live, "/sub")
    target = live.url("/sub/")
    assert (resp.status_code, resp.reason) == (301, "Moved Permanently")
    assert resp.headers["Location"] == target
    assert resp.headers["Content-Type"] == HTML
    assert resp.content == (
        f'This resource has permanently moved to <a href="{target}">{target}</a>.'.encode()
    )


def test_slash_redirect_keeps_the_query_string(live: Live) -> None:
    resp = get(live, "/sub?x=1&y=2")
    target = live.url("/sub/?x=1&y=2")
    assert resp.status_code == 301
    assert resp.headers["Location"] == target
    escaped = target.replace("&", "&amp;")
    assert resp.text == f'This resource has permanently moved to <a href="{escaped}">{escaped}</a>.'
    resp = post(live, "/sub", "a=1", headers=FORM)
    assert (resp.status_code, resp.headers["Location"]) == (301, live.url("/sub/"))


def test_no_slash_redirect_for_non_index_handlers(live: Live) -> None:
    check(get(live, "/sub/page/"), 200, "sub page")
    check(get(live, "/nosl"), 200, "sub index")


# -- _cp_dispatch and popargs ----------------------------------------------------------


def test_cp_dispatch(live: Live) -> None:
    check(get(live, "/bands/nirvana/"), 200, "About nirvana...")
    check(get(live, "/bands/nirvana/albums/nevermind/"), 200, "About nevermind by nirvana...")
    resp = get(live, "/bands/nirvana")
    assert (resp.status_code, resp.headers["Location"]) == (301, live.url("/bands/nirvana/"))
    # An attribute wins over _cp_dispatch.
    resp = get(live, "/bands/albums/")
    assert (resp.status_code, message(resp.content)) == (404, "Missing parameters: artist,title")
    resp = get(live, "/bands/a/b")
    assert (resp.status_code, message(resp.content)) == (
        404,
        "The path '/bands/a/b' was not found.",
    )


def test_popargs_class_decorator(live: Live) -> None:
    assert get(live, "/blog/").json() == {"year": None, "month": None, "params": {}}
    assert get(live, "/blog/2009/").json() == {
        "year": "2009",
        "month": None,
        "params": {"year": "2009"},
    }
    assert get(live, "/blog/2009/12/?x=1").status_code == 404
    assert get(live, "/blog/2009/12/").json() == {
        "year": "2009",
        "month": "12",
        "params": {"year": "2009", "month": "12"},
    }
    # The popped atoms leave an index behind: the slash redirect applies.
    resp = get(live, "/blog/2009")
    assert (resp.status_code, resp.headers["Location"]) == (301, live.url("/blog/2009/"))
    # Exposed methods take precedence over the arguments.
    check(get(live, "/blog/create"), 200, "create")


def test_popargs_as_dispatch_method(live: Live) -> None:
    check(get(live, "/item/42/"), 200, "item 42")
    check(get(live, "/item/42/edit"), 200, "edit 42")
    check(get(live, "/item/edit?item_id=7"), 200, "edit 7")


def test_popargs_with_handler_objects(live: Live) -> None:
    check(get(live, "/archive/"), 200, "archive")
    check(get(live, "/archive/2009/"), 200, "year 2009")
    check(get(live, "/archive/2009/12/"), 200, "month 2009-12")
    check(get(live, "/archive/2009/12/31/"), 200, "day 2009-12-31")


def test_popargs_with_a_callable_handler(live: Live) -> None:
    resp = get(live, "/greetings/bob/")
    assert (resp.status_code, resp.json()) == (200, {"name": "bob", "params": {}})


# -- the dispatch cache ----------------------------------------------------------------


def test_cached_resolutions_do_not_leak_between_paths(live: Live) -> None:
    for _ in range(2):
        assert get(live, "/catch/a").json()["args"] == ["a"]
        assert get(live, "/catch/b/c").json()["args"] == ["b", "c"]
        assert get(live, "/catch/a/").json()["is_index"] is True
        assert get(live, "/catch/a").json()["is_index"] is False
        assert get(live, "/one/1").json() == {"a": "1"}
        assert get(live, "/one/2").json() == {"a": "2"}


class Api:
    @cherrypy.expose
    def index(self) -> str:
        return "api index"

    @cherrypy.expose
    def x(self) -> str:
        req = cherrypy.request
        return dump({"api": True, "script_name": req.script_name, "path_info": req.path_info})


class OtherRoot:
    @cherrypy.expose
    def index(self) -> str:
        return "other root"

    @cherrypy.expose
    def x(self) -> str:
        req = cherrypy.request
        return dump({"api": False, "script_name": req.script_name, "path_info": req.path_info})


def check_api_routing(live: Live) -> None:
    check(get(live, "/api/"), 200, "api index")
    assert get(live, "/api/x").json() == {"api": True, "script_name": "/api", "path_info": "/x"}
    assert get(live, "/x").json() == {"api": False, "script_name": "", "path_info": "/x"}
    resp = get(live, "/apix")
    assert (resp.status_code, message(resp.content)) == (
        404,
        "The path '/apix' was not found.",
    )
    check(get(live, "/"), 200, "other root")


def test_longest_prefix_routing_between_apps(serve_app: ServeApp) -> None:
    live = serve_app(apps={"": OtherRoot(), "/api": Api()})
    check_api_routing(live)
    check_api_routing(live)


def test_bare_script_name_redirects_to_slash(serve_app: ServeApp) -> None:
    live = serve_app(apps={"": OtherRoot(), "/api": Api()})
    resp = get(live, "/api?a=1")
    target = live.url("/api/?a=1")
    assert (resp.status_code, resp.headers.get("Location")) == (301, target)


def test_tree_mount_while_serving_resets_routing(serve_app: ServeApp) -> None:
    live = serve_app(OtherRoot())
    resp = get(live, "/api/x")
    assert (resp.status_code, message(resp.content)) == (
        404,
        "The path '/api/x' was not found.",
    )
    live.tree.mount(Api(), "/api")
    check_api_routing(live)


def test_app_config_change_resets_the_cache(live: Live) -> None:
    assert get(live, "/conf").json() == {"my.key": None, "my.global": None}
    live.tree.apps[""].merge({"/": {"my.key": "app"}})
    assert get(live, "/conf").json() == {"my.key": "app", "my.global": None}


def test_global_config_change_resets_the_cache(live: Live, restore_config: None) -> None:
    assert get(live, "/conf").json() == {"my.key": None, "my.global": None}
    cherrypy.config.update({"my.global": "g"})
    assert get(live, "/conf").json() == {"my.key": None, "my.global": "g"}


# -- cherrypy.request ------------------------------------------------------------------


class Info:
    @cherrypy.expose
    def default(self, *args: str, **kwargs: Any) -> str:
        req = cherrypy.request
        body = req.body
        return dump(
            {
                "method": req.method,
                "path_info": req.path_info,
                "script_name": req.script_name,
                "query_string": req.query_string,
                "x_test": req.headers.get("X-Test"),
                "x_test_lower": req.headers.get("x-test"),
                "host": req.headers.get("Host"),
                "params": req.params,
                "args": list(args),
                "kwargs": kwargs,
                "body": body.read().decode() if req.method in ("POST", "PUT") else None,
                "body_params": body.params,
                "remote": [req.remote.ip, req.remote.port],
                "local": [req.local.name, req.local.port],
                "local_ip": req.local.ip,
                "base": req.base,
                "scheme": req.scheme,
                "cookie": {k: m.value for k, m in req.cookie.items()},
                "protocol": list(req.protocol),
                "protocol_is_tuple": type(req.protocol) is tuple,
                "server_protocol": req.server_protocol,
                "app_root_is_mounted_root": req.app.root is ROOTS.get("info"),
                "is_index": req.is_index,
                "handler_is_callable": callable(req.handler),
            }
        )


ROOTS: dict[str, Any] = {}


@pytest.fixture
def info(serve_app: ServeApp) -> Live:
    root = ROOTS["info"] = Info()
    return serve_app(root, "/app")


def request_info(live: Live, data: bytes) -> tuple[str, dict[str, Any]]:
    status, _, body = raw(live, data)
    return status.split(" ", 1)[1], json.loads(body)


def test_request_attributes_get(info: Live) -> None:
    with socket.create_connection((info.host, info.port), timeout=5) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(
            f"GET /app/a%2Fb/c?x=1&x=2&y=%C3%A9 HTTP/1.1\r\nHost: 127.0.0.1:{info.port}\r\n"
            "X-Test: hello\r\nCookie: a=1; b=two\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    info_dict = json.loads(body)
    del info_dict["local_ip"]  # see test_request_local_ip
    assert info_dict == {
        "method": "GET",
        "path_info": "/a%2Fb/c",
        "script_name": "/app",
        "query_string": "x=1&x=2&y=%C3%A9",
        "x_test": "hello",
        "x_test_lower": "hello",
        "host": f"127.0.0.1:{info.port}",
        "params": {"x": ["1", "2"], "y": "\u00e9"},
        "args": ["a/b", "c"],
        "kwargs": {"x": ["1", "2"], "y": "\u00e9"},
        "body": None,
        "body_params": {},
        "remote": ["127.0.0.1", client_port],
        "local": ["127.0.0.1", info.port],
        "base": f"http://127.0.0.1:{info.port}",
        "scheme": "http",
        "cookie": {"a": "1", "b": "two"},
        "protocol": [1, 1],
        "protocol_is_tuple": True,
        "server_protocol": "HTTP/1.1",
        "app_root_is_mounted_root": True,
        "is_index": False,
        "handler_is_callable": True,
    }


def test_request_attributes_post(info: Live) -> None:
    resp = post(info, "/app/?q=1", "a=1&b=2", headers=FORM)
    data = resp.json()
    assert data["method"] == "POST"
    assert data["path_info"] == "/"
    assert data["is_index"] is True
    assert data["params"] == {"q": "1", "a": "1", "b": "2"}
    assert data["body_params"] == {"a": "1", "b": "2"}
    resp = requests.put(
        info.url("/app/raw"), data=b"raw body", headers={"Content-Type": "text/plain"}, timeout=10
    )
    data = resp.json()
    assert (data["method"], data["body"], data["params"]) == ("PUT", "raw body", {})


def test_request_attributes_http10(info: Live) -> None:
    # (cheroot says HTTP/1.1 in the status line, hyper HTTP/1.0: both are allowed.)
    status, data = request_info(info, b"GET /app/x HTTP/1.0\r\n\r\n")
    assert status == "200 OK"
    assert data["protocol"] == [1, 0]
    assert data["host"] is None
    assert data["base"] == "http://127.0.0.1"


def test_request_server_protocol_http10(info: Live) -> None:
    _, data = request_info(info, b"GET /app/x HTTP/1.0\r\n\r\n")
    assert data["server_protocol"] == "HTTP/1.1"


def test_request_local_ip(info: Live) -> None:
    _, data = request_info(info, b"GET /app/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data["local_ip"] == ""


class ConfigRoot:
    _cp_config = {"obj_root": "root-obj", "shared": "root-obj"}

    def __init__(self) -> None:
        self.sub = ConfigSub()

    @cherrypy.expose
    def index(self) -> str:
        return dump(self.view())

    @staticmethod
    def view() -> dict[str, Any]:
        config = cherrypy.request.config
        keys = ("obj_root", "obj_sub", "obj_page", "path_root", "path_sub", "path_page", "shared")
        return {k: config.get(k) for k in keys}


class ConfigSub:
    _cp_config = {"obj_sub": "sub-obj", "shared": "sub-obj"}

    @cherrypy.expose
    def index(self) -> str:
        return dump(ConfigRoot.view())

    @cherrypy.expose
    def page(self) -> str:
        return dump(ConfigRoot.view())

    page._cp_config = {"obj_page": "page-obj", "shared": "page-obj"}  # type: ignore[attr-defined]

    @cherrypy.expose
    def other(self) -> str:
        return dump(ConfigRoot.view())


CONFIG_APP = {
    "/": {"path_root": "root-path", "shared": "root-path"},
    "/sub": {"path_sub": "sub-path", "shared": "sub-path"},
    "/sub/other": {"path_page": "other-path"},
}


def test_request_config_is_merged_per_path(serve_app: ServeApp) -> None:
    live = serve_app(ConfigRoot(), "", CONFIG_APP)
    none = dict.fromkeys(
        ("obj_root", "obj_sub", "obj_page", "path_root", "path_sub", "path_page", "shared")
    )
    # Path config overrides the object's _cp_config at the same level...
    assert get(live, "/").json() == {
        **none,
        "obj_root": "root-obj",
        "path_root": "root-path",
        "shared": "root-path",
    }
    assert get(live, "/sub/").json() == {
        **none,
        "obj_root": "root-obj",
        "obj_sub": "sub-obj",
        "path_root": "root-path",
        "path_sub": "sub-path",
        "shared": "sub-path",
    }
    # ... and deeper object config overrides path config above it.
    assert get(live, "/sub/page").json() == {
        **none,
        "obj_root": "root-obj",
        "obj_sub": "sub-obj",
        "obj_page": "page-obj",
        "path_root": "root-path",
        "path_sub": "sub-path",
        "shared": "page-obj",
    }
    assert get(live, "/sub/other").json() == {
        **none,
        "obj_root": "root-obj",
        "obj_sub": "sub-obj",
        "path_root": "root-path",
        "path_sub": "sub-path",
        "path_page": "other-path",
        "shared": "sub-path",
    }


def test_request_outside_a_request_is_an_error() -> None:
    with pytest.raises(RuntimeError, match=r"cherrypy\.request is only available while a request"):
        _ = cherrypy.request.method
    with pytest.raises(RuntimeError, match=r"cherrypy\.response is only available while a"):
        cherrypy.response.status = 200


# -- cherrypy.response -----------------------------------------------------------------


class ResponseRoot:
    @cherrypy.expose
    def created(self) -> str:
        cherrypy.response.status = 201
        return "created"

    @cherrypy.expose
    def created_str(self) -> str:
        cherrypy.response.status = "201 Created"
        return "created"

    @cherrypy.expose
    def odd(self) -> str:
        cherrypy.response.status = "299 Whatever"
        return "odd"

    @cherrypy.expose
    def headers(self) -> str:
        cherrypy.response.headers["X-Custom"] = "yes"
        cherrypy.response.headers["Content-Type"] = "text/plain"
        return "with headers"

    @cherrypy.expose
    def cookies(self) -> str:
        cookie = cherrypy.response.cookie
        cookie["a"] = "b"
        cookie["c"] = "d e"
        cookie["c"]["path"] = "/"
        cookie["c"]["max-age"] = 3600
        return "cookies"

    @cherrypy.expose
    def body_set(self) -> None:
        cherrypy.response.body = b"set directly"

    @cherrypy.expose
    def body_bytes(self) -> bytes:
        cherrypy.response.headers["Content-Type"] = "application/octet-stream"
        return b"\x00\xff"

    @cherrypy.expose
    def gen(self) -> Iterator[str]:
        yield "a,"
        yield "b"

    @cherrypy.expose
    def stream(self) -> Iterator[str]:
        yield "chunk1,"
        yield "chunk2"

    stream._cp_config = {"response.stream": True}  # type: ignore[attr-defined]

    @cherrypy.expose
    def stream_set(self) -> Iterator[str]:
        cherrypy.response.stream = True

        def chunks() -> Iterator[str]:
            yield "x"
            yield "y"

        return chunks()


@pytest.fixture
def resp_live(serve_app: ServeApp) -> Live:
    return serve_app(ResponseRoot())


def test_response_status_int_and_str(resp_live: Live) -> None:
    for path in ("/created", "/created_str"):
        resp = get(resp_live, path)
        assert (resp.status_code, resp.reason, resp.text) == (201, "Created", "created")
        assert resp.headers["Content-Length"] == "7"
    resp = get(resp_live, "/odd")
    assert (resp.status_code, resp.reason) == (299, "Whatever")


def test_response_headers(resp_live: Live) -> None:
    resp = get(resp_live, "/headers")
    assert resp.headers["X-Custom"] == "yes"
    assert resp.headers["Content-Type"] == "text/plain;charset=utf-8"
    check(resp, 200, "with headers")


def test_response_cookie(resp_live: Live) -> None:
    status, headers, body = raw(
        resp_live, b"GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == "HTTP/1.1 200 OK"
    assert [v for k, v in headers if k == "Set-Cookie"] == [
        "a=b",
        'c="d e"; Max-Age=3600; Path=/',
    ]
    assert body == b"cookies"


def test_response_body(resp_live: Live) -> None:
    # The handler's return value replaces whatever it put in response.body.
    resp = get(resp_live, "/body_set")
    assert (resp.status_code, resp.content, resp.headers["Content-Length"]) == (200, b"", "0")
    resp = get(resp_live, "/body_bytes")
    assert (resp.content, resp.headers["Content-Type"]) == (b"\x00\xff", "application/octet-stream")
    resp = get(resp_live, "/gen")
    assert (resp.content, resp.headers["Content-Length"]) == (b"a,b", "3")


@pytest.mark.parametrize(("path", "body"), [("/stream", b"chunk1,chunk2"), ("/stream_set", b"xy")])
def test_response_stream(resp_live: Live, path: str, body: bytes) -> None:
    resp = get(resp_live, path)
    assert resp.status_code == 200
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in resp.headers
    assert resp.content == body


# -- cherrypy.url() ----------------------------------------------------------------------


def test_url_forms(live: Live) -> None:
    base = live.base
    expected = {
        "plain": f"{base}/sub/urls",
        "x": f"{base}/sub/x",
        "abs_qs": f"{base}/x?a=1",
        "qs_dict": f"{base}/sub/urls?a=1",
        "relative": "x",
        "relative_up": "../top",
        "server": "/sub/x",
    }
    assert get(live, "/sub/urls").json() == expected
    assert get(live, "/sub/urls/").json() == expected


def test_url_in_a_mounted_app(serve_app: ServeApp) -> None:
    live = serve_app(Root(), "/mnt")
    base = live.base
    assert get(live, "/mnt/sub/urls").json() == {
        "plain": f"{base}/mnt/sub/urls",
        "x": f"{base}/mnt/sub/x",
        "abs_qs": f"{base}/mnt/x?a=1",
        "qs_dict": f"{base}/mnt/sub/urls?a=1",
        "relative": "x",
        "relative_up": "../top",
        "server": "/mnt/sub/x",
    }


# -- protocol details ------------------------------------------------------------------


def test_post_without_content_length_is_411(live: Live) -> None:
    status, headers, body = raw(
        live,
        b"POST /kw HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status == "HTTP/1.1 411 Length Required"
    assert ("Content-Type", HTML) in headers
    assert message(body) == "Client must specify Content-Length"
    assert ("Content-Length", str(len(body))) in headers


def test_head_has_get_headers_without_body(live: Live) -> None:
    status, headers, body = raw(live, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    assert ("Content-Length", "10") in headers
    assert ("Content-Type", HTML) in headers
    assert body == b""
    status, headers, body = raw(live, b"HEAD /sub HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == "HTTP/1.1 301 Moved Permanently"
    assert ("Location", "http://x/sub/") in headers
    assert body == b""
