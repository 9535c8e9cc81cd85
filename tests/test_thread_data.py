"""``cherrypy.thread_data``: CherryPy's per-thread container, with its documented idiom —
a ``start_thread`` listener opens a resource for each worker thread (the engine's
ThreadManager publishes it before a thread's first request), handlers read it back from
``cherrypy.thread_data`` (through a real socket)."""

from __future__ import annotations

import threading

import cherrypy_rs as cherrypy
from cherrypy_rs.process import plugins, wspbus
from tests.test_bus import server_on_bus
from tests.test_cli import get


def open_connection(thread_index: int) -> None:
    cherrypy.thread_data.db = f"connection of worker {thread_index}"
    cherrypy.thread_data.thread = threading.get_ident()


class Root:
    @cherrypy.expose
    def index(self) -> str:
        data = cherrypy.thread_data
        # Set on this thread by its start_thread, not on another one.
        assert data.thread == threading.get_ident()
        return data.db


def test_start_thread_fills_thread_data_for_the_handlers() -> None:
    bus = wspbus.Bus()
    plugins.ThreadManager(bus).subscribe()
    bus.subscribe("start_thread", open_connection)
    server = server_on_bus(bus, Root(), thread_pool=2)
    bus.start()
    try:
        for _ in range(5):
            status, body = get(server.bound_addr[1])
            assert status == 200
            assert body.startswith(b"connection of worker ")
    finally:
        bus.exit()


def test_thread_data_is_per_thread() -> None:
    cherrypy.thread_data.value = "main"
    seen: list[bool] = []
    worker = threading.Thread(target=lambda: seen.append(hasattr(cherrypy.thread_data, "value")))
    worker.start()
    worker.join()
    assert seen == [False]
    assert cherrypy.thread_data.value == "main"
    del cherrypy.thread_data.value
