"""tools.auth_basic, tools.auth_digest and tools.proxy through a real socket, with
`requests`' own Basic/Digest clients and raw headers for the malformed cases."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.auth import HTTPDigestAuth

import cherrypy_rs as cherrypy
from cherrypy_rs.lib import auth_basic, auth_digest
from cherrypy_rs.testing import serve

USERS = {"alice": "wonderland", "jürgen": "pässwörd"}
KEY = "a565c27146791cfb"


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return f"hello {cherrypy.request.login}"

    @cherrypy.expose
    def echo(self, **kwargs: Any) -> str:
        return f"{cherrypy.request.login} {sorted(kwargs)}"

    @cherrypy.expose
    def whoami(self) -> str:
        request = cherrypy.request
        return f"{request.base} {request.remote.ip}"


def basic_config(**extra: Any) -> dict[str, Any]:
    return {
        "/": {
            "tools.auth_basic.on": True,
            "tools.auth_basic.realm": "wonderland",
            "tools.auth_basic.checkpassword": auth_basic.checkpassword_dict(USERS),
            **extra,
        }
    }


def digest_config(**extra: Any) -> dict[str, Any]:
    return {
        "/": {
            "tools.auth_digest.on": True,
            "tools.auth_digest.realm": "wonderland",
            "tools.auth_digest.get_ha1": auth_digest.get_ha1_dict_plain(USERS),
            "tools.auth_digest.key": KEY,
            **extra,
        }
    }


def basic_header(user: str, password: str, charset: str = "utf-8") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode(charset)).decode()


def test_basic_challenge_then_login() -> None:
    with serve(Root(), "", basic_config()) as live:
        status, headers, _ = live.get("/")
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="wonderland", charset="UTF-8"'
        r = requests.get(live.url("/"), auth=("alice", "wonderland"), timeout=10)
        assert (r.status_code, r.text) == (200, "hello alice")
        r = requests.get(live.url("/"), auth=("alice", "wrong"), timeout=10)
        assert r.status_code == 401
        r = requests.get(live.url("/"), auth=("nobody", "wonderland"), timeout=10)
        assert r.status_code == 401
        status, _, body = live.get(
            "/", headers={"Authorization": basic_header("jürgen", "pässwörd")}
        )
        assert (status, body.decode()) == (200, "hello jürgen")


@pytest.mark.parametrize(
    "value",
    ["Basic %%%notbase64", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic"],
)
def test_basic_malformed_credentials_are_400(value: str) -> None:
    with serve(Root(), "", basic_config()) as live:
        assert live.get("/", headers={"Authorization": value})[0] == 400


def test_basic_other_scheme_is_challenged() -> None:
    with serve(Root(), "", basic_config()) as live:
        status, headers, _ = live.get("/", headers={"Authorization": "Bearer abc"})
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")


def test_basic_latin1_realm_has_no_charset() -> None:
    config = basic_config(**{"tools.auth_basic.accept_charset": "ISO-8859-1"})
    with serve(Root(), "", config) as live:
        assert live.get("/")[1]["WWW-Authenticate"] == 'Basic realm="wonderland"'


def test_basic_decorator_form() -> None:
    class Deco:
        @cherrypy.expose
        @cherrypy.tools.auth_basic(
            realm="r", checkpassword=auth_basic.checkpassword_dict({"u": "p"})
        )
        def index(self) -> str:
            return "secret"

        @cherrypy.expose
        def public(self) -> str:
            return "public"

    with serve(Deco()) as live:
        assert live.get("/")[0] == 401
        assert live.get("/public")[2] == b"public"
        assert requests.get(live.url("/"), auth=("u", "p"), timeout=10).text == "secret"


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_login_with_requests(algorithm: str) -> None:
    config = digest_config(**{"tools.auth_digest.algorithm": algorithm})
    with serve(Root(), "", config) as live:
        status, headers, _ = live.get("/")
        assert status == 401
        challenge = headers["WWW-Authenticate"]
        assert challenge.startswith('Digest realm="wonderland", nonce="')
        assert f'algorithm="{algorithm}", qop="auth", charset="UTF-8"' in challenge
        session = requests.Session()
        session.auth = HTTPDigestAuth("alice", "wonderland")
        r = session.get(live.url("/"), timeout=10)
        assert (r.status_code, r.text) == (200, "hello alice")
        r = session.post(live.url("/echo"), data={"a": "1"}, timeout=10)
        assert (r.status_code, r.text) == (200, "alice ['a']")
        bad = requests.get(live.url("/"), auth=HTTPDigestAuth("alice", "nope"), timeout=10)
        assert bad.status_code == 401


def _digest_header(
    nonce: str,
    user: str = "alice",
    password: str = "wonderland",
    uri: str = "/",
    method: str = "GET",
    algorithm: str = "MD5",
    qop: str | None = "auth",
    body: bytes = b"",
    realm: str = "wonderland",
) -> str:
    h = (
        (lambda s: hashlib.sha256(s.encode()).hexdigest())
        if "SHA" in algorithm
        else (lambda s: hashlib.md5(s.encode()).hexdigest())
    )
    ha1 = h(f"{user}:{realm}:{password}")
    cnonce, nc = "0a4f113b", "00000001"
    if algorithm.endswith("-sess"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    if qop == "auth-int":
        ha2 = h(f"{method}:{uri}:{h(body.decode())}")
    else:
        ha2 = h(f"{method}:{uri}")
    if qop:
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        extra = f', qop={qop}, nc={nc}, cnonce="{cnonce}"'
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'algorithm={algorithm}, response="{response}"{extra}'
    )


def test_digest_md5_sess_auth_int_and_no_qop() -> None:
    with serve(Root(), "", digest_config()) as live:
        nonce = auth_digest.synthesize_nonce("wonderland", KEY)
        for header in (
            _digest_header(nonce, algorithm="MD5-sess"),
            _digest_header(nonce, qop=None),
        ):
            status, _, body = live.get("/", headers={"Authorization": header})
            assert (status, body) == (200, b"hello alice"), header
        form = b"x=1&y=2"
        header = _digest_header(nonce, uri="/echo", method="POST", qop="auth-int", body=form)
        status, _, body = live.request(
            "POST",
            "/echo",
            body=form,
            headers={"Authorization": header, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert (status, body) == (200, b"alice ['x', 'y']")


def test_digest_stale_and_forged_nonces() -> None:
    with serve(Root(), "", digest_config()) as live:
        old = auth_digest.synthesize_nonce("wonderland", KEY, int(time.time()) - 3600)
        status, headers, _ = live.get("/", headers={"Authorization": _digest_header(old)})
        assert status == 401 and 'stale="true"' in headers["WWW-Authenticate"]
        # A fresh time stamp with a hash made without the key: not accepted, not stale.
        forged = auth_digest.synthesize_nonce("wonderland", "guessed-key")
        status, headers, _ = live.get("/", headers={"Authorization": _digest_header(forged)})
        assert status == 401 and "stale" not in headers["WWW-Authenticate"]
        moved = f"{int(time.time()) + 10**6}:{old.partition(':')[2]}"
        assert live.get("/", headers={"Authorization": _digest_header(moved)})[0] == 401


@pytest.mark.parametrize(
    "value",
    [
        'Digest username="alice"',
        'Digest username="alice", realm="wonderland", nonce="1:2", uri="/", '
        'response="x", algorithm=SHA-1024',
        'Digest username="alice", realm="wonderland", nonce="1:2", uri="/", response="x", qop=auth',
        'Digest username="alice", realm="wonderland", nonce="1:2", uri="/", '
        'response="x", nc=00000001',
    ],
)
def test_digest_malformed_header_is_400(value: str) -> None:
    with serve(Root(), "", digest_config()) as live:
        assert live.get("/", headers={"Authorization": value})[0] == 400


def test_digest_htdigest_file(tmp_path: Path) -> None:
    ha1 = hashlib.md5(b"alice:wonderland:wonderland").hexdigest()
    path = tmp_path / "htdigest"
    path.write_text(f"bob:other:xxx\nalice:wonderland:{ha1}\n")
    config = digest_config(
        **{"tools.auth_digest.get_ha1": auth_digest.get_ha1_file_htdigest(str(path))}
    )
    with serve(Root(), "", config) as live:
        r = requests.get(live.url("/"), auth=HTTPDigestAuth("alice", "wonderland"), timeout=10)
        assert (r.status_code, r.text) == (200, "hello alice")
        r = requests.get(live.url("/"), auth=HTTPDigestAuth("bob", "xxx"), timeout=10)
        assert r.status_code == 401


def test_proxy_tool_rewrites_base_and_remote() -> None:
    config = {"/": {"tools.proxy.on": True}}
    with serve(Root(), "", config) as live:
        headers = {
            "X-Forwarded-Host": "www.example.test",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.9, 10.0.0.1",
        }
        assert live.get("/whoami", headers=headers)[2] == b"https://www.example.test 203.0.113.9"
        body = live.get("/whoami")[2]
        assert body.startswith(b"http://127.0.0.1:") and body.endswith(b" 127.0.0.1")
    config = {
        "/": {
            "tools.proxy.on": True,
            "tools.proxy.base": "http://fixed.test",
            "tools.proxy.local": "",
            "tools.proxy.remote": "",
        }
    }
    with serve(Root(), "", config) as live:
        body = live.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})[2]
        assert body == b"http://fixed.test 127.0.0.1"


def test_proxy_off_by_default_ignores_forwarded_headers() -> None:
    with serve(Root()) as live:
        body = live.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})[2]
        assert body.endswith(b" 127.0.0.1")
