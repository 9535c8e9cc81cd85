"""Flask, Django, Bottle and Falcon applications grafted under ``/prefix``
(``serve(apps={"/prefix": app})``), each driven through every route of
``tests/apps/wsgi_apps.py`` with ``requests``.

Every assertion here also holds for the same applications under ``wsgiref``'s server
behind a SCRIPT_NAME dispatcher: where the frameworks differ (the redirect status, an
absolute or path-only Location), the assertion accepts each correct form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from cherrypy_rs.testing import LiveServer, serve
from tests.apps.wsgi_apps import FILE_DATA, FRAMEWORKS, STREAM_CHUNKS, Environ, StartResponse

TIMEOUT = 10


@dataclass
class Site:
    """One framework's application served under /prefix."""

    name: str
    live: LiveServer
    #: PATH_INFO of every call that reached the application.
    calls: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.live.url(path)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url(path), timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="module", params=list(FRAMEWORKS))
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    app = FRAMEWORKS[request.param]()
    calls: list[str] = []

    def recorded(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        return app(environ, start_response)

    with serve(apps={"/prefix": recorded}) as live:
        yield Site(request.param, live, calls)


def test_hello(site: Site) -> None:
    r = site.get("/prefix/hello")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == f"Hello from {site.name}"


def test_env_sees_script_name_and_path_info(site: Site) -> None:
    r = site.get("/prefix/env")
    assert r.status_code == 200
    assert r.json() == {"SCRIPT_NAME": "/prefix", "PATH_INFO": "/env"}


def test_routing_by_whole_segment(site: Site) -> None:
    # The bare prefix reaches the graft with PATH_INFO "": Django, Bottle and Falcon
    # serve their root; Flask (werkzeug) redirects to the slashed URL, under the prefix.
    del site.calls[:]
    r = site.get("/prefix", allow_redirects=False)
    if site.name == "flask":
        assert r.status_code == 308
        assert urlsplit(r.headers["Location"]).path == "/prefix/"
    else:
        assert (r.status_code, r.text) == (200, "root")
    r = site.get("/prefix/", allow_redirects=False)
    assert (r.status_code, r.text) == (200, "root")
    assert site.get("/prefix/hello").text == f"Hello from {site.name}"
    assert site.calls == ["", "/", "/hello"]
    # A path that merely starts with the same letters is not under the graft.
    for path in ("/prefixother", "/prefixother/hello", "/prefix-hello", "/"):
        r = site.get(path, allow_redirects=False)
        assert r.status_code == 404, path
    assert site.calls == ["", "/", "/hello"]


def test_unknown_route_is_the_frameworks_404(site: Site) -> None:
    del site.calls[:]
    assert site.get("/prefix/missing").status_code == 404
    assert site.calls == ["/missing"]


def test_form_post_urlencoded(site: Site) -> None:
    fields = [("name", "Zoë & co"), ("tag", "a"), ("tag", "b=c"), ("empty", "")]
    r = requests.post(site.url("/prefix/form"), data=fields, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json() == {"name": ["Zoë & co"], "tag": ["a", "b=c"], "empty": [""]}


def test_multipart_upload(site: Site) -> None:
    data = FILE_DATA[:300_001]
    files = {"file": ("payload.bin", data, "application/octet-stream")}
    r = requests.post(site.url("/prefix/upload"), files=files, data={"note": "x"}, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json() == {
        "filename": "payload.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_cookie_round_trip(site: Site) -> None:
    with requests.Session() as session:
        r = session.get(site.url("/prefix/cookie?value=bob"), timeout=TIMEOUT)
        assert r.status_code == 200
        assert "who=bob" in r.headers["Set-Cookie"]
        assert session.get(site.url("/prefix/whoami"), timeout=TIMEOUT).text == "bob"
    assert site.get("/prefix/whoami").text == "anonymous"


def test_redirect_location_keeps_the_prefix(site: Site) -> None:
    r = site.get("/prefix/redirect", allow_redirects=False)
    # Flask, Django and Falcon answer 302; Bottle 303 to an HTTP/1.1 request.
    assert r.status_code in (302, 303)
    location = r.headers["Location"]
    parts = urlsplit(location)
    # Flask and Django send a path; Bottle and Falcon an absolute URL built from the
    # Host header.
    if parts.netloc:
        assert (parts.scheme, parts.netloc) == ("http", f"127.0.0.1:{site.live.port}")
    assert parts.path == "/prefix/hello"
    followed = requests.get(urljoin(r.url, location), timeout=TIMEOUT)
    assert followed.text == f"Hello from {site.name}"


def test_streaming_response(site: Site) -> None:
    with site.get("/prefix/stream", stream=True) as r:
        assert r.status_code == 200
        # A generator has no known length: no framework declares one, and the server
        # must not buffer the body to compute it.
        assert "Content-Length" not in r.headers
        body = b"".join(r.iter_content(chunk_size=None))
    assert body == b"".join(STREAM_CHUNKS)


def test_exception_is_a_500(site: Site) -> None:
    r = site.get("/prefix/error")
    assert r.status_code == 500
    assert "boom from" not in r.text  # no traceback leaks to the client
    # The server and the application still serve the next request.
    assert site.get("/prefix/hello").status_code == 200
