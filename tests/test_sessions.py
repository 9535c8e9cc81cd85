"""Sessions (cherrypy_rs/lib/sessions.py, session_store.py, session_remote.py,
sessionauth.py) through a real socket: one suite run against every store (RAM, files,
a real redis-server, a real memcached), then what is particular to each store, the
security rules (no adopted ids, tampered cookies), load (50 threads x 20 increments),
processes sharing a Redis store, and session_auth."""

from __future__ import annotations

import gc
import http.client
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

import cherrypy_rs as cherrypy
from cherrypy_rs import context
from cherrypy_rs.lib import sessions
from cherrypy_rs.lib.sessions import FileSession, MemcachedSession, RamSession, RedisSession
from cherrypy_rs.testing import serve
from tests.session_servers import (
    free_port,
    memcached_server,
    redis_server,
    redis_url,
    start_memcached,
    start_redis,
)
from tests.test_cli import Proc
from tests.test_workers import Master, until

__all__ = ["memcached_server", "redis_server"]  # fixtures used by name

STORES = ["ram", "file", "redis", "memcached"]
CLIENTS: list[Any] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while CLIENTS:
        CLIENTS.pop().close()


def _expired(expires: str) -> bool:
    """Whether a cookie's ``expires`` attribute names a time in the past."""
    if not expires:
        return False
    return parsedate_to_datetime(expires.split(";")[0].strip()).timestamp() < time.time()


class Client:
    """A keep-alive HTTP client with a cookie jar (one browser)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.set_cookie: str | None = None
        CLIENTS.append(self)

    def request(
        self, method: str, path: str, body: bytes | None = None, cookie: str | None = None
    ) -> tuple[int, bytes]:
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookie is not None:
            headers["Cookie"] = cookie
        elif self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        self.set_cookie = resp.headers.get("Set-Cookie")
        if self.set_cookie:
            jar: SimpleCookie = SimpleCookie()
            jar.load(self.set_cookie)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or _expired(morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return resp.status, data

    def get(self, path: str, cookie: str | None = None) -> tuple[int, bytes]:
        return self.request("GET", path, cookie=cookie)

    def post(self, path: str, body: str) -> tuple[int, bytes]:
        return self.request("POST", path, body=body.encode())

    @property
    def sid(self) -> str:
        return self.cookies["session_id"]

    def close(self) -> None:
        self.conn.close()


class Root:
    @cherrypy.expose
    def index(self) -> str:
        count = cherrypy.session.get("count", 0) + 1
        cherrypy.session["count"] = count
        return str(count)

    @cherrypy.expose
    def untouched(self) -> str:
        return "no session data used"

    @cherrypy.expose
    def info(self) -> str:
        s = cherrypy.session
        return f"{s.id}|{s.originalid}|{s.missing}|{s.locked}|{s.loaded}"

    @cherrypy.expose
    def regen(self) -> str:
        cherrypy.tools.sessions.regenerate()
        return cherrypy.session.id

    @cherrypy.expose
    def delete(self) -> str:
        cherrypy.session.delete()
        sessions.expire()
        return "deleted"

    @cherrypy.expose
    def fail(self) -> str:
        cherrypy.session["before_error"] = True
        raise ValueError("boom")

    @cherrypy.expose
    def stream(self) -> Iterator[bytes]:
        yield b"first "
        # Changed after the response started: saved after the last chunk.
        cherrypy.session["streamed"] = cherrypy.session.get("streamed", 0) + 1
        yield b"last"

    stream._cp_config = {"response.stream": True}

    @cherrypy.expose
    def streamed(self) -> str:
        return str(cherrypy.session.get("streamed"))

    @cherrypy.expose
    def explicit(self) -> str:
        before = cherrypy.session.locked
        cherrypy.session.acquire_lock()
        cherrypy.session["n"] = cherrypy.session.get("n", 0) + 1
        return f"{before} {cherrypy.session.locked}"

    explicit._cp_config = {"tools.sessions.locking": "explicit"}

    @cherrypy.expose
    def early(self, **kwargs: Any) -> str:
        return str(cherrypy.session.locked)

    early._cp_config = {"tools.sessions.locking": "early"}

    @cherrypy.expose
    def hooked(self) -> str:
        # Hooks a handler attaches join the session's (as in CherryPy, where the tool
        # attached its hooks first): by priority, save (50) between these two.
        sess = cherrypy.session
        sess["hooked"] = sess.get("hooked", 0) + 1
        seen: list[str] = []
        hooks = cherrypy.request.hooks
        hooks.attach("before_finalize", lambda: seen.append(f"40:{sess.locked}"), priority=40)
        hooks.attach("before_finalize", lambda: seen.append(f"60:{sess.locked}"), priority=60)
        hooks.attach(
            "before_finalize",
            lambda: cherrypy.response.headers.update({"X-Seen": " ".join(seen)}),
            priority=70,
        )
        return "hooked"

    @cherrypy.expose
    def redirect_after_set(self) -> str:
        cherrypy.session["redirected"] = True
        raise cherrypy.HTTPRedirect("/info")

    @cherrypy.expose
    def redirected(self) -> str:
        return str(cherrypy.session.get("redirected"))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """tools.sessions.* settings for each store."""
    kind = request.param
    if kind == "ram":
        RamSession.cache.clear()
        return {"tools.sessions.storage_class": RamSession}
    if kind == "file":
        return {
            "tools.sessions.storage_class": FileSession,
            "tools.sessions.storage_path": str(tmp_path),
        }
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        return {
            "tools.sessions.storage_class": RedisSession,
            "tools.sessions.url": redis_url(server),
            "tools.sessions.prefix": f"test-{uuid.uuid4().hex[:8]}:",
        }
    server = request.getfixturevalue("memcached_server")
    return {
        "tools.sessions.storage_class": MemcachedSession,
        "tools.sessions.servers": [f"127.0.0.1:{server.port}"],
        "tools.sessions.prefix": f"t{uuid.uuid4().hex[:8]}:",
    }


def app_config(store: dict[str, Any], **extra: Any) -> dict[str, Any]:
    section = {"tools.sessions.on": True, "tools.sessions.lock_timeout": 20, **store}
    section.update({f"tools.sessions.{k}": v for k, v in extra.items()})
    return {"/": section}


@pytest.fixture
def live(store: dict[str, Any]) -> Iterator[Any]:
    with serve(Root(), "", app_config(store), thread_pool=8) as server:
        yield server


@pytest.fixture
def error_log() -> Iterator[list[str]]:
    """Lines written to cherrypy's error log during the test."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    cherrypy.log.error_log.addHandler(handler)
    yield lines
    cherrypy.log.error_log.removeHandler(handler)


# -- the suite every store passes ------------------------------------------------------


def test_counter_and_cookie(live: Any) -> None:
    client = Client(live.port)
    assert client.get("/") == (200, b"1")
    sid = client.sid
    assert re.fullmatch(r"[0-9a-f]{40}", sid)  # 160 bits
    cookie = client.set_cookie or ""
    assert "Max-Age=3600" in cookie and "Path=/" in cookie and "expires=" in cookie
    assert client.get("/") == (200, b"2")
    assert client.get("/") == (200, b"3")
    assert client.sid == sid
    _status, body = client.get("/info")
    assert body.decode().split("|") == [sid, sid, "False", "True", "False"]


def test_concurrent_requests_of_one_session_lose_no_update(live: Any) -> None:
    first = Client(live.port)
    assert first.get("/") == (200, b"1")
    cookie = f"session_id={first.sid}"
    errors: list[Any] = []

    def hammer() -> None:
        client = Client(live.port)
        try:
            for _ in range(20):
                status, body = client.get("/", cookie=cookie)
                if status != 200:
                    errors.append((status, body[:200]))
        finally:
            client.close()

    threads = [threading.Thread(target=hammer) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # 1 + 50 x 20 increments, none lost.
    assert first.get("/") == (200, b"1002")


def test_unknown_tampered_and_oversized_ids_are_never_adopted(live: Any) -> None:
    client = Client(live.port)
    for sent in ["0" * 40, "maliciousid", "../../etc/passwd", "x" * 5000, "a b", "é"]:
        status, body = client.get("/info", cookie=f'session_id="{sent}"')
        assert status == 200, (sent, body[:300])
        new_id, _original, missing, *_ = body.decode().split("|")
        assert re.fullmatch(r"[0-9a-f]{40}", new_id) and new_id != sent
        assert missing == "True"
    # A cookie header that does not even parse: still a new session, no error.
    assert client.get("/", cookie='session_id="unterminated; a=;b') == (200, b"1")


@pytest.mark.parametrize("timeout", [0.02, 1, 2.5])
def test_cookie_expires_as_cherrypy_computes_it(timeout: float) -> None:
    """``expires`` is ``HTTPDate(now + timeout * 60)`` (the second it falls in), also for
    a fraction of a minute: 1.2 s ahead is never sent as 1 s ahead of the whole second
    (a client could then see the cookie expired on arrival)."""
    with serve(Root(), "", app_config({}, timeout=timeout)) as live:
        client = Client(live.port)
        for _ in range(3):
            # Late in a second, where 1.2 s ahead falls two whole seconds on.
            time.sleep((0.9 - time.time() % 1) % 1)
            before = time.time()
            assert client.get("/")[0] == 200
            after = time.time()
            morsel = SimpleCookie(client.set_cookie)["session_id"]
            expires = parsedate_to_datetime(morsel["expires"]).timestamp()
            assert int(before + timeout * 60) <= expires <= int(after + timeout * 60)
        client.close()


def test_expired_id_is_not_adopted(store: dict[str, Any]) -> None:
    with serve(Root(), "", app_config(store, timeout=0.02)) as live:  # 1.2 s
        client = Client(live.port)
        assert client.get("/") == (200, b"1")
        old = client.sid
        # Poll until the session expires (1.2 s of inactivity): it starts over.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _status, body = client.get("/info", cookie=f"session_id={old}")
            if body.decode().split("|")[0] != old:
                break
            time.sleep(0.3)
        new_id, _, missing, *_ = body.decode().split("|")
        assert new_id != old and missing == "True"


def test_regenerate_keeps_the_data_under_a_new_id(live: Any) -> None:
    client = Client(live.port)
    client.get("/")
    client.get("/")
    old = client.sid
    status, body = client.get("/regen")
    assert status == 200 and body.decode() == client.sid != old
    assert client.get("/") == (200, b"3")
    # The old id is dead: a request with it gets a new, empty session.
    assert client.get("/", cookie=f"session_id={old}") == (200, b"1")


def test_delete_and_expire(live: Any) -> None:
    client = Client(live.port)
    client.get("/")
    sid = client.sid
    assert client.get("/delete") == (200, b"deleted")
    # As CherryPy: an Expires in the past and no Max-Age (which would win over it).
    set_cookie = client.set_cookie or ""
    assert "Max-Age" not in set_cookie and _expired(set_cookie.split("expires=")[1])
    assert client.get("/", cookie=f"session_id={sid}") == (200, b"1")


def test_lazy_load_saves_nothing_when_the_handler_does_not_use_the_session(live: Any) -> None:
    client = Client(live.port)
    assert client.get("/untouched")[0] == 200
    sid = client.sid
    # Nothing was stored under that id, so it is not adopted.
    _status, body = client.get("/info")
    parts = body.decode().split("|")
    assert parts[0] != sid and parts[2] == "True"


def test_streamed_response_is_saved_after_the_last_chunk(live: Any) -> None:
    client = Client(live.port)
    client.get("/")
    assert client.get("/stream") == (200, b"first last")
    assert client.get("/streamed") == (200, b"1")
    assert client.get("/stream") == (200, b"first last")
    # The lock was released after streaming, too (else this would wait for it).
    assert client.get("/streamed") == (200, b"2")


def test_lock_is_released_after_an_error(live: Any) -> None:
    client = Client(live.port)
    client.get("/")
    assert client.get("/fail")[0] == 500
    assert client.get("/") == (200, b"2")


def test_hooks_a_handler_attaches_run_with_the_session_hooks_by_priority(live: Any) -> None:
    client = Client(live.port)
    client.get("/")
    client.conn.request("GET", "/hooked", headers={"Cookie": f"session_id={client.sid}"})
    response = client.conn.getresponse()
    assert response.read() == b"hooked"
    # Locked before save (priority 40), released by it (60).
    assert response.getheader("X-Seen") == "40:True 60:False"
    assert client.get("/hooked")[0] == 200  # the lock was released: no wait


def test_a_redirect_saves_the_session_as_in_cherrypy(live: Any) -> None:
    # CherryPy runs before_finalize (sessions.save) for an HTTPRedirect, not for an
    # error (the /fail page above sets a value that is lost).
    client = Client(live.port)
    client.get("/")
    assert client.get("/redirect_after_set")[0] == 303
    assert client.get("/redirected") == (200, b"True")


def test_locking_modes(live: Any) -> None:
    client = Client(live.port)
    client.get("/")
    assert client.get("/info")[1].split(b"|")[3] == b"True"  # implicit: before the handler
    assert client.get("/explicit") == (200, b"False True")
    status, body = client.post("/early", "a=1")
    assert (status, body) == (200, b"True")


# -- store specifics ------------------------------------------------------------------


def test_file_store_survives_a_restart_and_ids_stay_in_its_directory(tmp_path: Path) -> None:
    store = {
        "tools.sessions.storage_class": FileSession,
        "tools.sessions.storage_path": str(tmp_path / "sessions"),
    }
    (tmp_path / "sessions").mkdir()
    with serve(Root(), "", app_config(store)) as live:
        client = Client(live.port)
        client.get("/")
        client.get("/")
        sid = client.sid
        status, _ = client.get("/", cookie="session_id=../outside")
        assert status == 200
    assert not (tmp_path / "session-..").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions"]
    with serve(Root(), "", app_config(store)) as live:
        client = Client(live.port)
        assert client.get("/", cookie=f"session_id={sid}") == (200, b"3")


def test_file_store_corrupt_file_is_a_new_session_and_a_warning(
    tmp_path: Path, error_log: list[str]
) -> None:
    store = {
        "tools.sessions.storage_class": FileSession,
        "tools.sessions.storage_path": str(tmp_path),
    }
    with serve(Root(), "", app_config(store)) as live:
        client = Client(live.port)
        client.get("/")
        sid = client.sid
        (tmp_path / f"session-{sid}").write_bytes(b"not a pickle")
        assert client.get("/") == (200, b"1")
        assert client.sid != sid
    assert any("could not be read" in line or "new session" in line for line in error_log)


def test_file_lock_held_by_a_killed_process_is_freed(tmp_path: Path) -> None:
    """A process that dies holding a session's lock: the OS drops its flock."""
    store = {
        "tools.sessions.storage_class": FileSession,
        "tools.sessions.storage_path": str(tmp_path),
    }
    with serve(Root(), "", app_config(store)) as live:
        client = Client(live.port)
        client.get("/")
        sid = client.sid
        script = (
            "import sys; from cherrypy_rs.lib.sessions import FileSession\n"
            f"s = FileSession({sid!r}, storage_path={str(tmp_path)!r})\n"
            "s.acquire_lock(); print('locked', flush=True); sys.stdin.read()\n"
        )
        with subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as holder:
            try:
                assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
                holder.kill()
                holder.wait(timeout=10)
                assert client.get("/") == (200, b"2")
            finally:
                if holder.poll() is None:
                    holder.kill()
                    holder.wait(timeout=10)


def test_lock_timeout_answers_503(tmp_path: Path) -> None:
    with serve(Root(), "", app_config({}, lock_timeout=0.2)) as live:
        client = Client(live.port)
        client.get("/")
        holder = RamSession(client.sid)
        holder.acquire_lock()
        try:
            status, body = client.get("/")
            assert status == 503 and b"locked by another request" in body
        finally:
            holder.release_lock()
        assert client.get("/") == (200, b"2")


class ExplicitLocking:
    """A handler that takes the session's lock itself and catches the timeout by
    CherryPy's name for it, ``cherrypy.lib.locking.LockTimeout``."""

    @cherrypy.expose
    def index(self) -> str:
        from cherrypy_rs.lib.locking import LockTimeout

        try:
            cherrypy.session.acquire_lock()
        except LockTimeout:
            return "busy"
        cherrypy.session["n"] = cherrypy.session.get("n", 0) + 1
        return str(cherrypy.session["n"])


def test_lib_locking_lock_timeout_is_what_sessions_raise() -> None:
    config = app_config({}, lock_timeout=0.2, locking="explicit")
    with serve(ExplicitLocking(), "", config) as live:
        client = Client(live.port)
        assert client.get("/") == (200, b"1")
        holder = RamSession(client.sid)
        holder.acquire_lock()
        try:
            assert client.get("/") == (200, b"busy")
        finally:
            holder.release_lock()
        assert client.get("/") == (200, b"2")


def test_redis_lock_of_a_crashed_holder_expires(redis_server: Any) -> None:
    import redis

    store = {
        "tools.sessions.storage_class": RedisSession,
        "tools.sessions.url": redis_url(redis_server),
        "tools.sessions.prefix": "crash:",
    }
    with serve(Root(), "", app_config(store)) as live:
        client = Client(live.port)
        client.get("/")
        # A holder that died: its lock key stays until its TTL runs out.
        r = redis.Redis.from_url(redis_url(redis_server))
        r.set(f"crash:{client.sid}:lock", "dead-holder", px=800)
        started = time.monotonic()
        assert client.get("/") == (200, b"2")
        assert time.monotonic() - started >= 0.5
        assert r.get(f"crash:{client.sid}:lock") is None
        assert r.pttl(f"crash:{client.sid}") > 3_500_000  # expiry kept by Redis


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_a_store_that_is_down_answers_503_with_one_log_line(
    kind: str, error_log: list[str]
) -> None:
    port = free_port()
    if kind == "redis":
        pytest.importorskip("redis")
        store = {
            "tools.sessions.storage_class": RedisSession,
            "tools.sessions.url": f"redis://127.0.0.1:{port}/0",
        }
        address = f"redis://127.0.0.1:{port}/0"
    else:
        pytest.importorskip("pymemcache")
        store = {
            "tools.sessions.storage_class": MemcachedSession,
            "tools.sessions.servers": [f"127.0.0.1:{port}"],
        }
        address = f"memcached://127.0.0.1:{port}"
    with serve(Root(), "", app_config(store, connect_timeout=1, socket_timeout=1)) as live:
        client = Client(live.port)
        started = time.monotonic()
        status, body = client.get("/", cookie="session_id=" + "a" * 40)
        assert time.monotonic() - started < 5
    assert status == 503 and b"session store is unavailable" in body
    assert b"Traceback" not in body or b"HTTPError" in body
    mine = [line for line in error_log if address in line]
    assert len(mine) == 1 and "unavailable" in mine[0]
    assert not any("Traceback" in line for line in error_log)


def test_redis_down_after_start_then_back(tmp_path: Path, error_log: list[str]) -> None:
    server = start_redis(str(tmp_path))
    try:
        store = {
            "tools.sessions.storage_class": RedisSession,
            "tools.sessions.url": redis_url(server),
        }
        with serve(Root(), "", app_config(store, connect_timeout=1, socket_timeout=1)) as live:
            client = Client(live.port)
            assert client.get("/") == (200, b"1")
            server.stop()
            assert client.get("/")[0] == 503
            server.start()
            # The data is gone with that Redis (no persistence): a new session.
            assert client.get("/")[0] == 200
    finally:
        server.stop()
    assert sum("RedisSession store at" in line for line in error_log) == 1


def test_memcached_length_is_not_countable(memcached_server: Any) -> None:
    sess = MemcachedSession(servers=[f"127.0.0.1:{memcached_server.port}"])
    with pytest.raises(NotImplementedError):
        len(sess)


# -- processes sharing one store ------------------------------------------------------


def test_redis_store_is_shared_by_two_server_processes(
    redis_server: Any, procs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSION_STORE", "redis")
    monkeypatch.setenv("SESSION_REDIS_URL", redis_url(redis_server))
    ports = []
    for _ in range(2):
        proc = Proc("run", "tests.apps.session_app:Root", "--bind", "127.0.0.1:0")
        procs.append(proc)
        ports.append(proc.wait_port())
    a, b = Client(ports[0]), Client(ports[1])
    assert a.get("/")[1].split()[0] == b"1"
    b.cookies = dict(a.cookies)
    status, body = b.get("/")
    count, pid_b = body.split()
    assert (status, count) == (200, b"2")
    status, body = a.get("/")
    count, pid_a = body.split()
    assert count == b"3" and pid_a != pid_b


def test_redis_store_is_shared_by_two_workers(
    redis_server: Any, procs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSION_STORE", "redis")
    monkeypatch.setenv("SESSION_REDIS_URL", redis_url(redis_server))
    proc = Master("run", "tests.apps.session_app:Root", "--bind", "127.0.0.1:0", "--workers", "2")
    procs.append(proc)
    proc.wait_serving(2)
    port = proc.port()
    first = Client(port)
    first.get("/")
    pids: set[bytes] = set()
    count = 1
    # Fresh connections land on either worker; the count goes on whichever serves.
    for _ in range(40):
        client = Client(port)
        client.cookies = dict(first.cookies)
        status, body = client.get("/")
        client.close()
        count += 1
        assert status == 200 and body.split()[0] == str(count).encode()
        pids.add(body.split()[1])
        if len(pids) == 2:
            break
    assert len(pids) == 2
    assert "keeps sessions in RAM" not in proc.output()


def test_ram_sessions_with_workers_warn_at_start(
    procs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSION_STORE", "ram")
    proc = Master("run", "tests.apps.session_app:Root", "--bind", "127.0.0.1:0", "--workers", "2")
    procs.append(proc)
    proc.wait_serving(2)
    until(lambda: "keeps sessions in RAM" in proc.output())
    line = next(x for x in proc.output().splitlines() if "keeps sessions in RAM" in x)
    assert "RedisSession" in line and "MemcachedSession" in line


# -- the API as CherryPy documents it -------------------------------------------------


def test_storage_type_samesite_and_cookie_options() -> None:
    config = {
        "/": {
            "tools.sessions.on": True,
            "tools.sessions.storage_type": "ram",
            "tools.sessions.name": "sid",
            "tools.sessions.path": "/app",
            "tools.sessions.domain": "example.com",
            "tools.sessions.secure": True,
            "tools.sessions.httponly": True,
            "tools.sessions.samesite": "strict",
            "tools.sessions.persistent": False,
        }
    }
    with serve(Root(), "", config) as live:
        client = Client(live.port)
        assert client.get("/")[0] == 200
        cookie = client.set_cookie or ""
        for part in ("sid=", "Path=/app", "Domain=example.com", "Secure", "HttpOnly"):
            assert part in cookie, cookie
        assert "SameSite=Strict" in cookie and "Max-Age" not in cookie


def test_bad_options_are_errors_naming_the_key() -> None:
    """Caught at mount, before any request (a value no store or mode takes)."""
    for key, value in [("locking", "sometimes"), ("samesite", "maybe"), ("storgae_path", "/")]:
        config = {"/": {"tools.sessions.on": True, f"tools.sessions.{key}": value}}
        with pytest.raises(ValueError, match=f"tools\\.sessions\\.{key}"):
            with serve(Root(), "", config):
                pass


def test_session_outside_a_session_path_is_a_clear_error() -> None:
    class App:
        @cherrypy.expose
        def index(self) -> str:
            try:
                cherrypy.session["x"] = 1
            except AttributeError as exc:
                return str(exc)
            return "no error"

    with serve(App()) as live:
        assert b"tools.sessions.on = True" in live.get("/")[2]


# -- session_auth -----------------------------------------------------------------------


def check(username: str, password: str) -> str | None:
    return None if (username, password) == ("alice", "secret") else "Wrong login/password"


class Protected:
    _cp_config = {
        "tools.sessions.on": True,
        "tools.session_auth.on": True,
        "tools.session_auth.check_username_and_password": check,
    }

    @cherrypy.expose
    def index(self) -> str:
        return f"Hi {cherrypy.request.login}"


def test_session_auth_login_logout_and_a_new_id_on_login() -> None:
    with serve(Protected()) as live:
        client = Client(live.port)
        status, body = client.get("/")
        assert status == 200 and b'<form method="post" action="do_login">' in body
        before = client.sid
        assert client.get("/do_login")[0] == 405
        status, body = client.post("/do_login", "username=<b>x</b>&password=no&from_page=/")
        assert status == 200 and b"Wrong login/password" in body
        assert b"<b>x</b>" not in body and b"&lt;b&gt;x&lt;/b&gt;" in body
        status, _ = client.post("/do_login", "username=alice&password=secret&from_page=/")
        assert status == 303 and client.sid != before
        assert client.get("/") == (200, b"Hi alice")
        # The id from before the login gives nothing.
        assert b"do_login" in client.get("/", cookie=f"session_id={before}")[1]
        status, _ = client.post("/do_logout", "from_page=/")
        assert status == 303
        assert b"do_login" in client.get("/")[1]


def test_session_auth_without_sessions_anywhere_is_an_error_at_start() -> None:
    class Bare:
        _cp_config = {k: v for k, v in Protected._cp_config.items() if "sessions" not in k}

        @cherrypy.expose
        def index(self) -> str:
            return "never served"

    with pytest.raises(ValueError, match=r"tools\.session_auth\.on: .*tools\.sessions"):
        with serve(Bare()):
            pass
    # Sessions on in a section of the same application are enough to start: there,
    # the login form is served.
    config = {"/other": {"tools.sessions.on": True}}
    with serve(Bare(), "", config) as live:
        status, _, body = live.get("/other")
        assert status == 200 and b'action="do_login"' in body


def test_session_auth_is_in_cptools_as_in_cherrypy() -> None:
    from cherrypy_rs.lib import cptools

    assert cptools.session_auth is cherrypy.tools.session_auth.callable
    assert issubclass(cptools.SessionAuth, object)
    assert os.path.basename(sessions.__file__) == "sessions.py"


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_a_store_that_does_not_answer_is_503_within_its_timeouts(
    kind: str, error_log: list[str]
) -> None:
    """A listening socket that never answers: the read times out after socket_timeout."""
    pytest.importorskip("redis" if kind == "redis" else "pymemcache")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        if kind == "redis":
            store: dict[str, Any] = {
                "tools.sessions.storage_class": RedisSession,
                "tools.sessions.url": f"redis://127.0.0.1:{port}/0",
            }
        else:
            store = {
                "tools.sessions.storage_class": MemcachedSession,
                "tools.sessions.servers": [f"127.0.0.1:{port}"],
            }
        config = app_config(store, connect_timeout=0.5, socket_timeout=0.5)
        with serve(Root(), "", config) as live:
            client = Client(live.port)
            started = time.monotonic()
            status, _ = client.get("/", cookie="session_id=" + "b" * 40)
            elapsed = time.monotonic() - started
    assert status == 503 and elapsed < 3
    assert sum(f"127.0.0.1:{port}" in line for line in error_log) == 1


def test_memcached_lock_of_a_crashed_holder_expires(memcached_server: Any) -> None:
    from pymemcache.client.base import Client as Memcache

    store = {
        "tools.sessions.storage_class": MemcachedSession,
        "tools.sessions.servers": [f"127.0.0.1:{memcached_server.port}"],
        "tools.sessions.prefix": "crash:",
    }
    with serve(Root(), "", app_config(store)) as live:
        client = Client(live.port)
        client.get("/")
        mc = Memcache(("127.0.0.1", memcached_server.port))
        try:
            # A holder that died: its lock key stays until it expires (1 s).
            assert mc.add(f"crash:{client.sid}:lock", b"dead-holder", expire=1, noreply=False)
            assert client.get("/") == (200, b"2")
            assert mc.get(f"crash:{client.sid}:lock") is None
        finally:
            mc.close()


def test_redis_value_that_fails_to_load_is_a_new_session_and_a_warning(
    redis_server: Any, error_log: list[str]
) -> None:
    import redis

    store = {
        "tools.sessions.storage_class": RedisSession,
        "tools.sessions.url": redis_url(redis_server),
        "tools.sessions.prefix": "bad:",
    }
    with serve(Root(), "", app_config(store)) as live:
        client = Client(live.port)
        client.get("/")
        sid = client.sid
        r = redis.Redis.from_url(redis_url(redis_server))
        r.set(f"bad:{sid}", b"\x80\x05not a pickle", px=60_000)
        r.close()
        assert client.get("/") == (200, b"1")
        assert client.sid != sid
    assert any("could not be read" in line for line in error_log)


def test_file_clean_up_removes_expired_sessions_only(tmp_path: Path) -> None:
    live_one = FileSession(storage_path=str(tmp_path), timeout=60)
    live_one["a"] = 1
    live_one.save()
    old = FileSession(storage_path=str(tmp_path), timeout=-1)  # already expired
    old["b"] = 2
    old.save()
    assert len(live_one) == 2
    live_one.clean_up()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"session-{live_one.id}"]


def test_lock_is_released_when_the_client_leaves_a_streamed_response() -> None:
    """The client closes the connection after the first chunk: the request still ends
    (on_end_request), releasing the session's lock."""
    release = threading.Event()

    class Streaming:
        @cherrypy.expose
        def index(self) -> str:
            cherrypy.session["n"] = cherrypy.session.get("n", 0) + 1
            return str(cherrypy.session["n"])

        @cherrypy.expose
        def slow(self) -> Iterator[bytes]:
            cherrypy.session["slow"] = True
            yield b"x" * 65536
            release.wait(10)
            for _ in range(64):
                yield b"y" * 65536

        slow._cp_config = {"response.stream": True}

    config = app_config({}, lock_timeout=10)
    with serve(Streaming(), "", config) as live:
        client = Client(live.port)
        assert client.get("/") == (200, b"1")
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as raw:
            raw.sendall(
                f"GET /slow HTTP/1.1\r\nHost: x\r\nCookie: session_id={client.sid}\r\n\r\n".encode()
            )
            assert raw.recv(4096)
        release.set()
        # Gone: the stream fails on the server, the request ends, the lock is freed.
        assert client.get("/") == (200, b"2")


def test_memcached_sessions_spread_over_several_servers(memcached_server: Any) -> None:

    second = start_memcached()
    try:
        servers = [f"127.0.0.1:{memcached_server.port}", f"127.0.0.1:{second.port}"]
        store = {
            "tools.sessions.storage_class": MemcachedSession,
            "tools.sessions.servers": servers,
        }
        with serve(Root(), "", app_config(store)) as live:
            clients = [Client(live.port) for _ in range(12)]
            for client in clients:
                assert client.get("/") == (200, b"1")
            for client in clients:
                assert client.get("/") == (200, b"2")
        from pymemcache.client.base import Client as Memcache

        counts = []
        for port in (memcached_server.port, second.port):
            mc = Memcache(("127.0.0.1", port))
            counts.append(sum(mc.get(f"cpsession:{c.sid}") is not None for c in clients))
            mc.close()
        assert sum(counts) == 12 and all(counts), counts
    finally:
        second.stop()


def test_path_header_sets_the_cookie_path() -> None:
    config = {"/": {"tools.sessions.on": True, "tools.sessions.path_header": "X-Script-Name"}}
    with serve(Root(), "", config) as live:
        status, headers, _ = live.get("/", headers={"X-Script-Name": "/mounted"})
        assert status == 200 and "Path=/mounted" in headers["Set-Cookie"]
        assert "Path=/;" in live.get("/")[1]["Set-Cookie"] + ";"


def test_ram_clean_up_drops_expired_sessions_and_keeps_held_locks() -> None:
    RamSession.cache.clear()
    fresh = RamSession(timeout=60)
    fresh["a"] = 1
    fresh.save()
    stale = RamSession(timeout=-1)
    stale["b"] = 2
    stale.acquire_lock()
    stale.save()  # saves, then releases the lock
    held = RamSession(fresh.id)
    held.acquire_lock()
    try:
        fresh.clean_up()
        assert list(RamSession.cache) == [fresh.id]
        assert fresh.id in RamSession.locks and stale.id not in RamSession.locks
    finally:
        held.release_lock()
    assert fresh.id not in RamSession.locks


def test_internal_redirect_keeps_the_session_and_its_lock() -> None:
    class Redirecting(Root):
        @cherrypy.expose
        def go(self) -> str:
            cherrypy.session["before"] = True
            raise cherrypy.InternalRedirect("/")

    with serve(Redirecting(), "", app_config({}, lock_timeout=5)) as live:
        client = Client(live.port)
        assert client.get("/") == (200, b"1")
        # The redirected request goes on with the same (locked) session: no deadlock.
        assert client.get("/go") == (200, b"2")
        assert client.get("/") == (200, b"3")


def test_sessions_keep_no_request_or_response_alive(tmp_path: Path) -> None:
    """Neither the cleanup monitor nor the id observers hold a past request's objects."""
    refs: list[Any] = []

    class Tracked(Root):
        @cherrypy.expose
        def track(self) -> str:
            refs.append(weakref.ref(context.response_or_raise()))
            refs.append(weakref.ref(context.request_or_raise()))
            cherrypy.session["n"] = 1
            cherrypy.tools.sessions.regenerate()
            return "ok"

    store = {
        "tools.sessions.storage_class": FileSession,
        "tools.sessions.storage_path": str(tmp_path),
    }
    with serve(Tracked(), "", app_config(store, clean_freq=1)) as live:
        for _ in range(3):
            assert live.get("/track")[2] == b"ok"
    gc.collect()
    assert [r for r in refs if r() is not None] == []


def test_internal_redirect_to_a_path_without_sessions_releases_the_lock() -> None:
    class Redirecting(Root):
        @cherrypy.expose
        def go(self) -> str:
            cherrypy.session["x"] = 1
            raise cherrypy.InternalRedirect("/plain")

        @cherrypy.expose
        def plain(self) -> str:
            return "plain"

        plain._cp_config = {"tools.sessions.on": False}

    with serve(Redirecting(), "", app_config({}, lock_timeout=2)) as live:
        client = Client(live.port)
        assert client.get("/") == (200, b"1")
        assert client.get("/go") == (200, b"plain")
        # The redirected request ran no session hook; the lock was released anyway.
        assert client.get("/") == (200, b"2")


def test_a_path_whose_only_tool_is_sessions_keeps_the_fast_path() -> None:
    from cherrypy_rs.pathconfig import compile_path, toolboxes_of

    def compiled(section: dict[str, Any]) -> Any:
        return compile_path({**cherrypy.config, **section}, toolboxes_of(None))

    on = {"tools.sessions.on": True}
    fast = compiled(on).fast_session
    assert fast is not None
    assert [h.callback for h in fast.before_handler] == [cherrypy.tools.sessions._lock_session]
    assert set(fast.later) == {"before_finalize", "on_end_resource", "on_end_request"}
    early = compiled({**on, "tools.sessions.locking": "early"}).fast_session
    assert early is not None and len(early.before_request_body) == 2
    # Any other tool (or a bare hook) and the path goes through the hook machinery.
    assert compiled({**on, "tools.gzip.on": True}).fast_session is None
    assert compiled({**on, "hooks.before_handler": lambda: None}).fast_session is None


# -- the session fast path: the cookie read, the Set-Cookie text, the lock ---------------

SESSION_COOKIE_HEADERS = [
    "session_id=0123456789abcdef0123456789abcdef01234567",
    "session_id=abc",
    " session_id=abc ",
    "session_id = abc",
    "session_id=abc;",
    "session_id=abc; other=1",
    "other=1; session_id=abc",
    "session_id=abc; session_id=def",
    "session_id=",
    "session_id=a b",
    'session_id="quoted"',
    'session_id="a\\"b"',
    "session_id=a-b_c",
    "session_id=abc; $Path=/",
    "$Version=1; session_id=abc",
    "session_id=abc; Path=/",
    "session_id=abc; a=b; $Foo=bar",
    "session_ida=abc",
    "session_i=abc",
    "Session_id=abc",
    "session_id=é",
    "session_id=abc\x00",
    "session_id=abcé",
    "session_id=ab,c",
    "session_id=abc=def",
    "x; session_id=abc",
    "session_id",
]


def real_cherrypy_cookie(header: str, name: str) -> str | int | None:
    """The value CherryPy 18 itself reads for cookie ``name`` from a ``Cookie`` header
    (its Request.process_headers); 400 when it refuses the header."""
    real = pytest.importorskip("cherrypy")
    assert real.__name__ == "cherrypy" and not hasattr(real, "_core")
    from cherrypy.lib.httputil import HeaderMap, Host

    req = real._cprequest.Request(Host("127.0.0.1", 80), Host("127.0.0.1", 1234))
    req.header_list = [("Host", "x"), ("Cookie", header)]
    req.headers = HeaderMap()
    req.cookie = SimpleCookie()
    req.protocol = (1, 1)
    try:
        req.process_headers()
    except real.HTTPError as exc:
        return int(exc.status)
    morsel = req.cookie.get(name)
    return morsel.value if morsel is not None else None


class _CookieCore:
    """What the Rust server hands a Request, for a GET with one Cookie header."""

    script_name = ""
    method = "GET"
    path_info = "/"
    query_string = ""

    def __init__(self, header: str) -> None:
        self.cookie_header = header

    def header(self, name: str) -> str | None:
        return self.cookie_header if name.lower() == "cookie" else None


def ours_cookie(header: str, name: str) -> str | int | None:
    from cherrypy_rs.objects import Request

    request = Request(_CookieCore(header), None)
    try:
        return sessions._cookie_value(request, name)
    except cherrypy.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("header", SESSION_COOKIE_HEADERS)
def test_the_session_cookie_is_read_as_cherrypy_reads_it(header: str) -> None:
    # CherryPy strips the header value (process_headers); so does the Rust server.
    expected = real_cherrypy_cookie(header.strip(), "session_id")
    assert ours_cookie(header.strip(), "session_id") == expected, header


def test_odd_session_cookies_through_a_socket() -> None:
    """The id the session was asked for (originalid) is the one CherryPy reads."""

    class Orig:
        @cherrypy.expose
        def index(self) -> str:
            return repr(cherrypy.session.originalid)

    with serve(Orig(), "", {"/": {"tools.sessions.on": True}}) as live:
        for header in SESSION_COOKIE_HEADERS:
            if any(c in header for c in "\x00é"):
                continue  # not sendable as a header value
            status, _h, body = live.get("/", headers={"Cookie": header})
            expected = real_cherrypy_cookie(header.strip(), "session_id")
            if expected == 400:
                assert status == 400, header
            else:
                assert (status, body.decode()) == (200, repr(expected)), header


class CookieJarRoot(Root):
    @cherrypy.expose
    def jar(self) -> str:
        """Touches the session, then reads and adds to response.cookie (the jar is
        built, with the session's morsel in it)."""
        count = cherrypy.session.get("count", 0) + 1
        cherrypy.session["count"] = count
        jar = cherrypy.response.cookie
        assert list(jar) == ["session_id"]
        assert jar["session_id"].value == cherrypy.session.id
        jar["extra"] = "1"
        return str(count)


COOKIE_OPTIONS: list[dict[str, Any]] = [
    {},
    {"path": "/app"},
    {"domain": "example.com"},
    {"secure": True, "httponly": True},
    {"samesite": "Lax"},
    {"samesite": "None", "secure": True},
    {"persistent": False},
    {"timeout": 1},
    {"path_header": "X-Script-Name"},
]


def _normalized(set_cookie: str, session_id: str) -> str:
    text = set_cookie.replace(session_id, "<id>")
    return re.sub(r"expires=[^;]+", "expires=<date>", text)


@pytest.mark.parametrize("options", COOKIE_OPTIONS, ids=repr)
def test_the_prerendered_set_cookie_is_what_the_jar_sends(options: dict[str, Any]) -> None:
    """The same Set-Cookie whether it comes from the text rendered once per path or from
    the jar (a handler that reads response.cookie), for each cookie option."""
    config = app_config({}, **options)
    with serve(CookieJarRoot(), "", config) as live:
        headers = {"X-Script-Name": "/mounted"}
        status, first, _ = live.get("/", headers=headers)
        assert status == 200
        fast = first.get_all("Set-Cookie")
        assert len(fast) == 1
        session_id = SimpleCookie(fast[0])["session_id"].value
        cookie = f"session_id={session_id}"
        status, second, body = live.get("/jar", headers={**headers, "Cookie": cookie})
        assert (status, body) == (200, b"2")
        via_jar = second.get_all("Set-Cookie")
        assert via_jar[1] == "extra=1"
        assert _normalized(via_jar[0], session_id) == _normalized(fast[0], session_id)
        # And the text is set_response_cookie's, as CherryPy builds it.
        jar = SimpleCookie()
        jar["session_id"] = session_id
        morsel = jar["session_id"]
        morsel["path"] = options.get("path") or ("/mounted" if "path_header" in options else "/")
        if options.get("persistent", True):
            seconds = int(options.get("timeout", 60) * 60)
            morsel["max-age"] = seconds
            morsel["expires"] = "<date>"
        for key in ("domain", "samesite"):
            if key in options:
                morsel[key] = options[key]
        for key in ("secure", "httponly"):
            if options.get(key):
                morsel[key] = True
        assert _normalized(fast[0], session_id) == _normalized(morsel.OutputString(), session_id)


def test_a_regenerated_id_replaces_the_prerendered_cookie() -> None:
    class Login(Root):
        @cherrypy.expose
        def login(self) -> str:
            cherrypy.session["user"] = "ann"
            cherrypy.tools.sessions.regenerate()
            return cherrypy.session.id  # type: ignore[no-any-return]

    with serve(Login(), "", app_config({})) as live:
        client = Client(live.port)
        assert client.get("/") == (200, b"1")
        before = client.cookies["session_id"]
        status, body = client.get("/login")
        assert status == 200 and body.decode() != before
        assert client.cookies["session_id"] == body.decode()
        assert client.set_cookie is not None and client.set_cookie.count("session_id=") == 1


def test_local_locks_exclude_wait_and_time_out() -> None:
    from cherrypy_rs.lib.session_store import acquire_local, release_local

    locks: dict[str, Any] = {}
    assert acquire_local(locks, "s", None)
    assert "s" in locks
    # Held: a try without waiting and a short wait both fail, and leave no trace.
    assert not acquire_local(locks, "s", 0)
    assert not acquire_local(locks, "s", 0.01)
    assert acquire_local(locks, "other", 0)
    release_local(locks, "other")
    got = threading.Event()
    done = threading.Event()

    def waiter() -> None:
        if acquire_local(locks, "s", 30):
            got.set()
            release_local(locks, "s")
        done.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert not got.wait(0.05)  # still held here
    release_local(locks, "s")
    assert done.wait(30) and got.is_set()
    thread.join(30)
    assert locks == {}


def test_local_locks_keep_one_holder_among_many_threads() -> None:
    from cherrypy_rs.lib.session_store import acquire_local, release_local

    locks: dict[str, Any] = {}
    inside = 0
    most = 0
    counter = {"n": 0}
    guard = threading.Lock()

    def worker() -> None:
        nonlocal inside, most
        for _ in range(200):
            assert acquire_local(locks, "s", None)
            with guard:
                inside += 1
                most = max(most, inside)
            n = counter["n"]
            time.sleep(0)  # let another thread run while the lock is held
            counter["n"] = n + 1
            with guard:
                inside -= 1
            release_local(locks, "s")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert counter["n"] == 1600 and most == 1 and locks == {}
