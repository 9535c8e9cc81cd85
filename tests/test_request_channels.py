"""The engine's ``before_request`` and ``after_request`` channels: CherryPy publishes
them around every request of an Application (``Application.get_serving`` and
``release_serving``), with ``cherrypy.request`` set. Listeners subscribed with
``cherrypy.engine.subscribe`` are called through a real socket, on the quick path's
URLs too; without listeners nothing is published."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs.testing import LiveServer, serve

EVENTS: list[tuple[str, str]] = []


class Root:
    @cherrypy.expose
    def index(self) -> str:
        return "Hello, world!"

    @cherrypy.expose
    def reads(self) -> str:
        EVENTS.append(("handler", cherrypy.request.path_info))
        return "read"

    @cherrypy.expose
    @cherrypy.config(**{"response.stream": True})
    def streamed(self) -> Iterator[bytes]:
        yield b"one "
        EVENTS.append(("chunk", cherrypy.request.path_info))
        yield b"two"


def before() -> None:
    EVENTS.append(("before_request", cherrypy.request.path_info))


def after() -> None:
    EVENTS.append(("after_request", cherrypy.request.path_info))


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with serve(Root()) as server:
        yield server


@pytest.fixture
def listening() -> Iterator[None]:
    cherrypy.engine.subscribe("before_request", before)
    cherrypy.engine.subscribe("after_request", after)
    EVENTS.clear()
    try:
        yield
    finally:
        cherrypy.engine.unsubscribe("before_request", before)
        cherrypy.engine.unsubscribe("after_request", after)
        EVENTS.clear()


def test_each_request_is_published_around_its_handler(live: LiveServer, listening: None) -> None:
    for _ in range(3):
        status, _headers, body = live.get("/reads")
        assert (status, body) == (200, b"read")
    assert (
        EVENTS
        == [
            ("before_request", "/reads"),
            ("handler", "/reads"),
            ("after_request", "/reads"),
        ]
        * 3
    )


def test_a_quick_path_is_published_too(live: LiveServer) -> None:
    # Served (and compiled for the quick path) before anyone listens.
    for _ in range(2):
        assert live.get("/")[2] == b"Hello, world!"
    cherrypy.engine.subscribe("before_request", before)
    cherrypy.engine.subscribe("after_request", after)
    EVENTS.clear()
    try:
        for _ in range(2):
            status, headers, body = live.get("/")
            assert (status, body) == (200, b"Hello, world!")
            assert headers["Content-Type"] == "text/html;charset=utf-8"
        assert EVENTS == [("before_request", "/"), ("after_request", "/")] * 2
    finally:
        cherrypy.engine.unsubscribe("before_request", before)
        cherrypy.engine.unsubscribe("after_request", after)
    EVENTS.clear()
    assert live.get("/")[2] == b"Hello, world!"
    assert EVENTS == []


def test_a_streamed_body_is_published_once_it_ends(live: LiveServer, listening: None) -> None:
    status, _headers, body = live.get("/streamed")
    assert (status, body) == (200, b"one two")
    assert EVENTS == [
        ("before_request", "/streamed"),
        ("chunk", "/streamed"),
        ("after_request", "/streamed"),
    ]


def test_a_failing_before_request_listener_fails_the_request(live: LiveServer) -> None:
    def broken() -> None:
        raise ValueError("no database")

    cherrypy.engine.subscribe("before_request", broken)
    EVENTS.clear()
    try:
        status, _headers, _body = live.get("/reads")
        assert status == 500
        assert EVENTS == []
    finally:
        cherrypy.engine.unsubscribe("before_request", broken)
    assert live.get("/reads")[0] == 200


def test_a_failing_after_request_listener_is_logged_not_sent(live: LiveServer) -> None:
    def broken() -> None:
        EVENTS.append(("broken after_request", cherrypy.request.path_info))
        raise ValueError("cleanup failed")

    cherrypy.engine.subscribe("after_request", broken)
    EVENTS.clear()
    try:
        status, _headers, body = live.get("/")
        assert (status, body) == (200, b"Hello, world!")
        # Called, and its error kept from the client.
        assert EVENTS == [("broken after_request", "/")]
    finally:
        cherrypy.engine.unsubscribe("after_request", broken)


def test_an_application_behind_a_wsgi_pipeline_is_published_inside_it(listening: None) -> None:
    # CherryPy publishes from the innermost application, so a middleware of the
    # application's wsgi.pipeline sees the request before before_request.
    def middleware(app: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            EVENTS.append(("middleware", environ["PATH_INFO"]))
            return app(environ, start_response)

        return wrapped

    config = {"/": {"wsgi.pipeline": [("recorder", middleware)]}}
    with serve(Root(), "", config) as live:
        status, _headers, body = live.get("/reads")
    assert (status, body) == (200, b"read")
    assert EVENTS == [
        ("middleware", "/reads"),
        ("before_request", "/reads"),
        ("handler", "/reads"),
        ("after_request", "/reads"),
    ]
