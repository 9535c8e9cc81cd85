"""cherrypy_rs/cookies.py gives ``http.cookies``'s results (the jars and texts CherryPy
apps see) for every input, through its shortcuts or by handing over to the standard
library; and ``request.cookie`` / ``response.cookie`` through a real socket."""

from __future__ import annotations

from http.cookies import CookieError, Morsel, SimpleCookie

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cherrypy_rs as cherrypy
from cherrypy_rs import cookies
from cherrypy_rs.testing import serve

#: Cookie headers around the edges of the simple form (the shortcut must agree with
#: SimpleCookie on each, whether it takes it or hands it over).
EDGES = [
    "",
    "a=1",
    "a=1; b=2",
    "a=1;b=2",
    " a = 1 ; b = 2 ",
    "a=1; a=2",
    "a=1; b=2; a=3",
    "a=",
    "a=; b=",
    "a=b=c",
    "a=x/y:z@w?q(r)[s]{t}<u>",
    "a=$x",
    "a=1,2",
    'a="quoted"',
    'a="with \\"escape\\""',
    'a="a;b"; c=d',
    "a=b c",
    "a=b;;c=d",
    "a=b;",
    "a=b; ",
    ";a=b",
    "a",
    "a; b=c",
    "=b",
    "$Version=1; a=b",
    "a=b; $Path=/",
    "a=b; $Foo=bar",
    "a=b; Path=/; c=d",
    "path=/",
    "Expires=Wed, 09 Jun 2021 10:18:14 GMT",
    "a=b; expires=Wed, 09 Jun 2021 10:18:14 GMT",
    "a=b; secure",
    "a=b; HttpOnly; c=d",
    "a/b=c",
    "a b=c",
    "a\tb=c",
    "é=1",
    "a=é",
    "a=\x00",
    "a=b\x0bc",
    "session_id=0123456789abcdef0123456789abcdef01234567",
    "a=1; b=2; c=3; d=4; e=5",
    "ключ=1",
    "a=1\n; b=2",
    "a=1\r\n b=2",
]


def stdlib(header: str) -> SimpleCookie | CookieError:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError as exc:
        return exc
    return jar


def ours(header: str) -> SimpleCookie | CookieError:
    try:
        return cookies.load_jar(header)
    except CookieError as exc:
        return exc


def assert_same_jar(header: str) -> None:
    expected, got = stdlib(header), ours(header)
    if isinstance(expected, CookieError):
        assert isinstance(got, CookieError), header
        assert str(got) == str(expected)
        return
    assert isinstance(got, SimpleCookie), header
    assert list(got) == list(expected), header
    for key, morsel in expected.items():
        mine = got[key]
        assert type(mine) is Morsel
        assert mine == morsel, header
        assert (mine.key, mine.value, mine.coded_value) == (
            morsel.key,
            morsel.value,
            morsel.coded_value,
        )
        assert mine.__dict__ == morsel.__dict__
        assert mine.OutputString() == morsel.OutputString()
    pairs = cookies.parse_simple(header) if header else None
    if pairs is not None:
        assert pairs == {k: m.value for k, m in expected.items()}


def test_the_shortcuts_are_on() -> None:
    assert cookies._ENABLED
    assert cookies.parse_simple("a=1; b=2") == {"a": "1", "b": "2"}


@pytest.mark.parametrize("header", EDGES)
def test_edge_headers_load_as_simplecookie_loads_them(header: str) -> None:
    assert_same_jar(header)


def test_the_shortcut_declines_what_it_does_not_know() -> None:
    for header in ('a="q"', "a=b c", "a=b;;c=d", "$Version=1; a=b", "path=/", "a", "é=1"):
        assert cookies.parse_simple(header) is None, header


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*'ab=; \t"$,/\\é\x00', "Path", "x1", "secure"])).map("".join))
def test_random_headers_load_as_simplecookie_loads_them(header: str) -> None:
    assert_same_jar(header)


VALUES = ["abc", "0123456789abcdef", "", "a b", 'q"uote', "x;y", "é", "a,b", "$x", "a=b"]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("key", ["session_id", "a", "Path", "bad key", "k$"])
def test_new_morsel_is_what_the_jar_stores(key: str, value: str) -> None:
    jar = SimpleCookie()
    try:
        jar[key] = value
    except CookieError:
        assert cookies.new_morsel(key, value) is None
        return
    made = cookies.new_morsel(key, value)
    if made is None:
        return  # the jar's own path is used (quoting)
    assert made == jar[key]
    assert made.__dict__ == jar[key].__dict__


def morsels() -> list[Morsel[str]]:
    out = []
    for attrs in (
        {},
        {"path": "/"},
        {"path": "/", "max-age": 3600, "expires": "Wed, 09 Jun 2021 10:18:14 GMT"},
        {"domain": "example.com", "secure": True, "httponly": True, "samesite": "Strict"},
        {"secure": False, "httponly": 0},
        {"expires": 3600},  # an int expiry: the library's date text
        {"comment": "a comment; with ;"},
        {"max-age": "60"},
        {"max-age": True},
        {"version": 1, "path": 7},
    ):
        jar = SimpleCookie()
        jar["sid"] = "abc"
        for k, v in attrs.items():
            jar["sid"][k] = v
        out.append(jar["sid"])
    quoted = SimpleCookie()
    quoted["q"] = "a b"
    out.append(quoted["q"])
    return out


@pytest.mark.parametrize("morsel", morsels(), ids=lambda m: repr(dict(m)))
def test_output_is_outputstring(morsel: Morsel[str]) -> None:
    if "expires" in morsel and isinstance(morsel["expires"], int):
        # Depends on the clock: the two calls must land in the same second.
        first = morsel.OutputString()
        assert cookies.output(morsel) in (first, morsel.OutputString())
    else:
        assert cookies.output(morsel) == morsel.OutputString()


def test_output_of_a_morsel_subclass_is_its_own() -> None:
    class Mine(Morsel):  # type: ignore[type-arg]
        def OutputString(self, attrs: object = None) -> str:
            return "mine"

    morsel = Mine()
    morsel.set("a", "b", "b")
    assert cookies.output(morsel) == "mine"


class CookieRoot:
    @cherrypy.expose
    def read(self) -> str:
        jar = cherrypy.request.cookie
        return ";".join(f"{k}={m.value}" for k, m in jar.items())

    @cherrypy.expose
    def write(self) -> str:
        cherrypy.response.cookie["plain"] = "v1"
        cherrypy.response.cookie["plain"]["path"] = "/x"
        cherrypy.response.cookie["plain"]["max-age"] = 60
        cherrypy.response.cookie["spaced"] = "a b"
        cherrypy.response.cookie["spaced"]["httponly"] = True
        return "ok"


def test_request_and_response_cookies_through_a_socket() -> None:
    with serve(CookieRoot()) as live:
        assert live.get("/read", headers={"Cookie": "a=1; b=x/y"})[2] == b"a=1;b=x/y"
        # Quoted values and attributes: SimpleCookie's reading.
        assert live.get("/read", headers={"Cookie": 'a="q r"; $Path=/; b=2'})[2] == b"a=q r;b=2"
        # What SimpleCookie refuses is a 400, as in CherryPy.
        status, _h, _b = live.get("/read", headers={"Cookie": "a=b; $Foo=bar"})
        assert status == 400
        status, headers, _body = live.get("/write")
        assert status == 200
        assert headers.get_all("Set-Cookie") == [
            "plain=v1; Max-Age=60; Path=/x",
            'spaced="a b"; HttpOnly',
        ]


# -- SetCookie: the Set-Cookie text rendered once, filled in per response ----------------

SET_COOKIE_ATTRS = [
    {},
    {"path": "/"},
    {"path": "/app", "max-age": 3600},
    {"path": "/", "domain": "example.com"},
    {"path": "/", "secure": True},
    {"path": "/", "httponly": True},
    {"path": "/", "samesite": "Lax"},
    {"path": "/", "max-age": 60, "domain": "a.b", "secure": True, "httponly": True},
    {"path": "/x", "max-age": 1, "samesite": "None", "secure": True},
    {"path": "/", "comment": "a comment; quoted"},
]


def jar_text(name: str, value: str, attrs: dict[str, object], expires: str | None) -> str:
    """What a SimpleCookie jar sends for the cookie (the reference)."""
    jar = SimpleCookie()
    jar[name] = value
    for key, attr in attrs.items():
        jar[name][key] = attr
    if expires is not None:
        jar[name]["expires"] = expires
    return jar[name].OutputString()


@pytest.mark.parametrize("attrs", SET_COOKIE_ATTRS, ids=repr)
@pytest.mark.parametrize("has_expires", [True, False])
def test_set_cookie_text_is_the_jars(attrs: dict[str, object], has_expires: bool) -> None:
    template = cookies.SetCookie("session_id", attrs, has_expires=has_expires)
    for value in ("0123456789abcdef0123456789abcdef01234567", "x", "A-b_c.9"):
        for expires in ("Wed, 09 Jun 2021 10:18:14 GMT", "Thu, 01 Jan 2026 00:00:00 GMT"):
            expected = jar_text("session_id", value, attrs, expires if has_expires else None)
            assert template.plain(value)
            assert template.text(value, expires) == expected
            morsel = template.morsel(value, expires)
            assert cookies.output(morsel) == expected == morsel.OutputString()


def test_set_cookie_text_follows_every_attribute() -> None:
    """Each attribute, the name, the value and the date change the text (rendered once per
    path: a stale part would show here)."""
    base = {"path": "/", "max-age": 60}
    variants = [
        ("session_id", base),
        ("other", base),
        ("session_id", {**base, "path": "/p"}),
        ("session_id", {**base, "max-age": 120}),
        ("session_id", {**base, "domain": "example.org"}),
        ("session_id", {**base, "secure": True}),
        ("session_id", {**base, "httponly": True}),
        ("session_id", {**base, "samesite": "Strict"}),
    ]
    texts = set()
    for name, attrs in variants:
        template = cookies.SetCookie(name, attrs, has_expires=True)
        text = template.text("abc", "Wed, 09 Jun 2021 10:18:14 GMT")
        assert text == jar_text(name, "abc", attrs, "Wed, 09 Jun 2021 10:18:14 GMT")
        texts.add(text)
        assert template.text("abd", "Wed, 09 Jun 2021 10:18:14 GMT") != text
        assert template.text("abc", "Wed, 09 Jun 2021 10:18:15 GMT") != text
    assert len(texts) == len(variants)


@pytest.mark.parametrize("value", ["", "a b", 'q"', "x;y", "é", "a,b"])
def test_set_cookie_takes_only_plain_values(value: str) -> None:
    template = cookies.SetCookie("sid", {"path": "/"}, has_expires=False)
    assert not template.plain(value)


@pytest.mark.parametrize(
    ("name", "attrs"),
    [("bad name", {}), ("path", {}), ('q"', {}), ("sid", {"expires": "x"})],
)
def test_set_cookie_refuses_what_has_no_plain_text(name: str, attrs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        cookies.SetCookie(name, attrs, has_expires=False)
