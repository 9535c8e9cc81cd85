"""Session stores on a network server, shared by every process and host that reaches
it: ``RedisSession`` (new in cherrypy_rs) and ``MemcachedSession``.

Both keep the session's expiry in the server (the key's TTL: nothing to clean up) and
lock a session across processes with a lock key that expires by itself after
``lock_ttl`` seconds, so a lock held by a process that died is freed without help.
Inside one process, requests of one session first queue on a local lock, so only one
thread per process polls the server for the shared lock.

A server that cannot be reached within ``connect_timeout`` / ``socket_timeout``
seconds answers the request with 503, and the error log gets one line naming the
store and its address.

The clients are the ``redis`` and ``pymemcache`` packages (``pip install redis`` /
``pip install pymemcache``), imported when the store is first used.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

from .. import context
from ..errors import HTTPError
from .session_store import (
    CorruptSession,
    LockTimeout,
    Session,
    acquire_local,
    log,
    release_local,
)

_CLIENTS_MUTEX = threading.Lock()

# Compare-and-delete: release the lock only if this request still owns it.
_RELEASE_SCRIPT = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


def _unpickle(raw: bytes, where: str) -> tuple[dict[Any, Any], datetime.datetime]:
    # Lazy: pickle costs ~0.35 MiB per process; only the stores that serialize need it.
    import pickle

    try:
        value = pickle.loads(raw)
        if not (isinstance(value, tuple) and len(value) == 2):
            raise TypeError(f"a {type(value).__name__}, not (data, expiration)")
        return value  # type: ignore[no-any-return]
    except Exception as exc:
        raise CorruptSession(f"{where}: {exc}") from None


class _RemoteSession(Session):
    """What the network stores share: the lock protocol and the 503 on failure."""

    #: Seconds to connect, and to wait for an answer, before the store counts as down.
    connect_timeout: float = 2.0
    socket_timeout: float = 2.0
    #: Seconds after which a lock key expires by itself (a crashed holder's lock).
    lock_ttl: float = 60
    #: Prepended to session ids to make the store's keys.
    prefix = "cherrypy_rs:session:"
    _needs_cleanup: ClassVar[bool] = False
    locks: ClassVar[dict[str, Any]] = {}
    _lock_token: str | None = None

    def address(self) -> str:
        raise NotImplementedError

    def _client_errors(self) -> tuple[type[BaseException], ...]:
        raise NotImplementedError

    def _unavailable(self, exc: BaseException) -> NoReturn:
        """Log once per request that the store is down, and answer 503."""
        request = context.request_or_none()
        if request is None or not request.__dict__.get("_session_store_down"):
            if request is not None:
                request._session_store_down = True  # type: ignore[attr-defined]
            log(
                f"{type(self).__name__} store at {self.address()} is unavailable "
                f"({type(exc).__name__}: {exc}); answering 503.",
                logging.ERROR,
            )
        raise HTTPError(503, "The session store is unavailable; try again later.") from None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except HTTPError:
            raise
        except self._client_errors() as exc:
            self._unavailable(exc)

    def _key(self, session_id: str | None = None) -> str:
        return self.prefix + (self._id if session_id is None else session_id)  # type: ignore[operator]

    def _ttl_seconds(self, expiration_time: datetime.datetime) -> float:
        return max((expiration_time - self.now()).total_seconds(), 0.001)

    # The shared lock, implemented by each store.
    def _try_lock(self, key: str, token: str) -> bool:
        raise NotImplementedError

    def _unlock(self, key: str, token: str) -> None:
        raise NotImplementedError

    def acquire_lock(self) -> None:
        """Lock the session across processes and hosts (waits up to
        ``lock_timeout`` seconds, None: as long as it takes)."""
        if self.locked:
            return
        assert self._id is not None
        session_id = self._id
        timeout = self.lock_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        if not acquire_local(self.locks, session_id, timeout):
            raise LockTimeout(session_id, timeout or 0)
        token = os.urandom(16).hex()
        delay = 0.001
        try:
            with self._guard():
                while not self._try_lock(self._key(session_id) + ":lock", token):
                    if deadline is not None and time.monotonic() >= deadline:
                        raise LockTimeout(session_id, timeout or 0)
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
        except BaseException:
            release_local(self.locks, session_id)
            raise
        self._lock_token = token
        self.locked = True

    def release_lock(self) -> None:
        """Release the lock; if the store is down, the lock key expires by itself."""
        if not self.locked:
            return
        self.locked = False
        token, self._lock_token = self._lock_token, None
        session_id = self._id
        try:
            with self._guard():
                self._unlock(self._key(session_id) + ":lock", token)  # type: ignore[arg-type]
        except HTTPError:
            pass  # logged once; the lock's TTL frees it
        finally:
            release_local(self.locks, session_id)  # type: ignore[arg-type]


class RedisSession(_RemoteSession):
    """Sessions in Redis: ``url`` (``redis://[:password@]host:port/db``, also
    ``rediss://`` and ``unix://``) or ``host``/``port``/``db``/``password``; keys are
    ``prefix`` + id, expiring with the session (``timeout``)."""

    url: str | None = None
    host = "127.0.0.1"
    port = 6379
    db = 0
    password: str | None = None
    _clients: ClassVar[dict[tuple[Any, ...], Any]] = {}

    def address(self) -> str:
        if self.url:
            parts = urlsplit(self.url)
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            return f"{parts.scheme}://{netloc}{parts.path}"
        return f"redis://{self.host}:{self.port}/{self.db}"

    def _client_errors(self) -> tuple[type[BaseException], ...]:
        # Optional: redis is needed only by this store.
        import redis

        return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

    @property
    def client(self) -> Any:
        """The ``redis.Redis`` client for these settings (one per process)."""
        key = (
            self.url,
            self.host,
            self.port,
            self.db,
            self.password,
            self.connect_timeout,
            self.socket_timeout,
        )
        client = self._clients.get(key)
        if client is None:
            with _CLIENTS_MUTEX:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._connect()
        return client

    def _connect(self) -> Any:
        # Optional: redis is needed only by this store.
        import redis

        # Optional: as above.
        from redis.backoff import NoBackoff

        # Optional: as above.
        from redis.retry import Retry

        options: dict[str, Any] = {
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": self.socket_timeout,
            # No silent retries: a store that is down answers 503 within the timeouts.
            "retry": Retry(NoBackoff(), 0),
        }
        if self.url:
            client = redis.Redis.from_url(self.url, **options)
        else:
            client = redis.Redis(
                host=self.host, port=self.port, db=self.db, password=self.password, **options
            )
        client._cprs_release = client.register_script(_RELEASE_SCRIPT)  # type: ignore[attr-defined]
        return client

    def _exists(self) -> bool:
        with self._guard():
            return bool(self.client.exists(self._key()))

    def _load(self) -> tuple[dict[Any, Any], datetime.datetime] | None:
        with self._guard():
            raw = self.client.get(self._key())
        if raw is None:
            return None
        return _unpickle(raw, f"{self.address()} {self._key()}")

    def _save(self, expiration_time: datetime.datetime) -> None:
        # Lazy: pickle costs ~0.35 MiB per process; only the stores that serialize need it.
        import pickle

        raw = pickle.dumps((self._data, expiration_time), pickle.HIGHEST_PROTOCOL)
        ttl_ms = max(int(self._ttl_seconds(expiration_time) * 1000), 1)
        with self._guard():
            self.client.set(self._key(), raw, px=ttl_ms)

    def _delete(self) -> None:
        with self._guard():
            self.client.delete(self._key())

    def _try_lock(self, key: str, token: str) -> bool:
        ttl_ms = max(int(self.lock_ttl * 1000), 1)
        return bool(self.client.set(key, token, nx=True, px=ttl_ms))

    def _unlock(self, key: str, token: str) -> None:
        client = self.client
        client._cprs_release(keys=[key], args=[token])

    def __len__(self) -> int:
        """The number of live sessions under ``prefix`` (a SCAN of the keys)."""
        with self._guard():
            return sum(
                1
                for key in self.client.scan_iter(match=self.prefix + "*", count=1000)
                if not key.endswith(b":lock")
            )


class MemcachedSession(_RemoteSession):
    """Sessions in memcached: ``servers`` is a list of ``"host:port"`` (several: keys
    are spread over them by hash). Memcached may evict entries under memory pressure:
    prefer Redis when losing a session matters."""

    servers: ClassVar[list[str]] = ["127.0.0.1:11211"]  # type: ignore[misc]
    prefix = "cpsession:"
    _clients: ClassVar[dict[tuple[Any, ...], Any]] = {}

    def address(self) -> str:
        return "memcached://" + ",".join(self.servers)

    def _client_errors(self) -> tuple[type[BaseException], ...]:
        # Optional: pymemcache is needed only by this store.
        from pymemcache.exceptions import MemcacheError

        return (MemcacheError, OSError)

    @property
    def client(self) -> Any:
        """The pymemcache client for these servers (one per process, pooled)."""
        key = (tuple(self.servers), self.connect_timeout, self.socket_timeout)
        client = self._clients.get(key)
        if client is None:
            with _CLIENTS_MUTEX:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._connect()
        return client

    def _connect(self) -> Any:
        # Optional: pymemcache is needed only by this store.
        from pymemcache.client.base import PooledClient

        # Optional: as above.
        from pymemcache.client.hash import HashClient

        addresses = []
        for server in self.servers:
            host, _, port = str(server).rpartition(":")
            addresses.append((host or "127.0.0.1", int(port or 11211)))
        options: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "timeout": self.socket_timeout,
            "default_noreply": False,
        }
        if len(addresses) == 1:
            return PooledClient(addresses[0], **options)
        return HashClient(addresses, use_pooling=True, retry_attempts=0, **options)

    @staticmethod
    def _expire(seconds: float) -> int:
        # Memcached's clock ticks once a second, so an item may expire up to a second
        # early: one second more (the stored expiration time is checked on load anyway).
        # More than 30 days reads as an absolute Unix time.
        whole = int(seconds + 0.999) + 1
        return whole if whole <= 30 * 86400 else int(time.time()) + whole

    def _exists(self) -> bool:
        with self._guard():
            return self.client.get(self._key()) is not None

    def _load(self) -> tuple[dict[Any, Any], datetime.datetime] | None:
        with self._guard():
            raw = self.client.get(self._key())
        if raw is None:
            return None
        return _unpickle(raw, f"{self.address()} {self._key()}")

    def _save(self, expiration_time: datetime.datetime) -> None:
        # Lazy: pickle costs ~0.35 MiB per process; only the stores that serialize need it.
        import pickle

        raw = pickle.dumps((self._data, expiration_time), pickle.HIGHEST_PROTOCOL)
        expire = self._expire(self._ttl_seconds(expiration_time))
        with self._guard():
            if not self.client.set(self._key(), raw, expire=expire):
                raise HTTPError(500, "memcached did not store the session")

    def _delete(self) -> None:
        with self._guard():
            self.client.delete(self._key())

    def _try_lock(self, key: str, token: str) -> bool:
        return bool(self.client.add(key, token.encode(), expire=self._expire(self.lock_ttl)))

    def _unlock(self, key: str, token: str) -> None:
        client = self.client
        if client.get(key) == token.encode():
            client.delete(key)

    def __len__(self) -> int:
        raise NotImplementedError("Sessions in memcached are not countable.")
