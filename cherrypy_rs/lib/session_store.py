"""Session objects (``cherrypy.lib.sessions.Session``) and the stores that live in this
process or on its disk: ``RamSession`` and ``FileSession``.

A ``Session`` is the dict-like ``cherrypy.session`` of one request. It knows its id
(the cookie's value), loads its data from the store on first use (lazy load), writes it
back only if it was loaded, and holds the session's lock between ``acquire_lock()`` and
``release_lock()`` (``save()`` releases it). Stores implement ``_exists``, ``_load``,
``_save``, ``_delete``, ``acquire_lock``, ``release_lock`` and ``clean_up``.

Ids come from the OS's CSPRNG (160 bits, 40 hex digits). An id a client sends is used
only when the store holds a live (unexpired) session under it; otherwise the request
gets a new id (no session fixation), as it does for a malformed or oversized cookie.
"""

from __future__ import annotations

import copy
import datetime
import fcntl
import logging
import os
import threading
import time
from typing import Any, Callable, ClassVar

from .. import context
from ..errors import HTTPError
from ..process.plugins import Monitor

#: The longest session id accepted from a cookie; longer ones start a new session.
MAX_ID_LENGTH = 128
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

_MISSING = object()
#: timeout (minutes) -> its timedelta, for the expiry a save computes.
_DELTAS: dict[Any, datetime.timedelta] = {}


def _minutes(value: Any) -> datetime.timedelta:
    """``datetime.timedelta(minutes=value)``, made once per value."""
    try:
        return _DELTAS[value]
    except (KeyError, TypeError):
        delta = datetime.timedelta(minutes=value)
        if len(_DELTAS) < 64:
            try:
                _DELTAS[value] = delta
            except TypeError:
                pass
        return delta


def log(msg: str, severity: int = logging.INFO) -> None:
    """Write ``msg`` to the error log under TOOLS.SESSIONS."""
    logger = context.site.log
    if logger is not None:
        logger.error(msg, "TOOLS.SESSIONS", severity=severity)


class CorruptSession(Exception):
    """A stored session that cannot be read back (unpickling failed)."""


class LockTimeout(HTTPError):
    """The session stayed locked by other requests for longer than ``lock_timeout``."""

    def __init__(self, session_id: str, timeout: float) -> None:
        super().__init__(
            503,
            f"The session is locked by another request (waited {timeout:g} s); try again later.",
        )
        self.session_id = session_id


# -- process-local locks by session id ------------------------------------------------
#
# ``locks`` maps a session id to the lock of the thread that holds the session, and
# holds an entry only while it is held. A thread locks a session by publishing a lock
# of its own, already acquired, with ``dict.setdefault`` (one step under the GIL: of two
# threads, one publishes and the other gets the first one's lock back). A thread that
# finds another's lock waits on it; the holder removes its entry before releasing it, so
# a waiter that wakes up knows the session is free and tries to publish its own again.
# Uncontended, a lock costs one new lock object and two dict operations, and no
# process-wide mutex.

_allocate_lock = threading.Lock


def acquire_local(locks: dict[str, Any], session_id: str, timeout: float | None) -> bool:
    """Take the process-local lock of ``session_id`` in ``locks`` (an entry exists while
    it is held); False after ``timeout`` seconds (None: wait as long as it takes)."""
    mine = _allocate_lock()
    mine.acquire()
    held = locks.setdefault(session_id, mine)
    if held is mine:
        return True
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0)
    while True:
        if deadline is None:
            held.acquire()
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not held.acquire(timeout=remaining):
                return False
        # The holder released the session (it removed its entry first): this lock is
        # no longer anyone's.
        held.release()
        held = locks.setdefault(session_id, mine)
        if held is mine:
            return True


def release_local(locks: dict[str, Any], session_id: str) -> None:
    """Release the lock ``acquire_local`` took (any thread may release it: a streamed
    response may end on another thread than the one that started it)."""
    lock = locks.pop(session_id, None)
    if lock is not None:
        lock.release()


class Session:
    """``cherrypy.session``: the current request's session data, dict-like.

    Any keyword argument becomes an attribute (``timeout`` in minutes, ``clean_freq``
    in minutes, the store's own options). ``id`` is the session id; ``originalid`` the
    one the client sent; ``missing`` is True when that one was not adopted;
    ``regenerated`` after ``regenerate()``; ``loaded`` once the data was read; ``locked``
    while this request holds the session's lock.
    """

    #: Minutes of inactivity after which the session expires.
    timeout: float = 60
    #: Minutes between two runs of ``clean_up`` (0: never).
    clean_freq: float = 5
    #: Seconds to wait for the session's lock (None: as long as it takes).
    lock_timeout: float | None = None
    #: The cleanup monitor of this class (started on the first load).
    clean_thread: Any = None
    #: The tool's ``locking`` key ("implicit", "early" or "explicit").
    locking = "implicit"
    locked = False
    loaded = False
    originalid: str | None = None
    missing = False
    regenerated = False
    debug = False
    #: Whether the class needs the cleanup monitor (stores that expire entries
    #: themselves do not).
    _needs_cleanup: ClassVar[bool] = True

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        self.id_observers: list[Callable[[str | None], Any]] = []
        self._data: dict[Any, Any] = {}
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.originalid = id
        self.missing = False
        self._id: str | None = None
        if id is not None and self.valid_id(id):
            self._id = id
            if self._exists():
                return
            if self.debug:
                log(f"Unknown or expired session id {id!r}: a new session.")
        elif id is not None and self.debug:
            log("Malformed session id from the client: a new session.")
        if id is not None:
            self.missing = True
        self._id = None
        self._regenerate()

    # -- the id ------------------------------------------------------------------------
    @property
    def id(self) -> str | None:
        """The session id (observers, such as the cookie, follow its changes)."""
        return self._id

    @id.setter
    def id(self, value: str | None) -> None:
        self._id = value
        for observer in self.id_observers:
            observer(value)

    @staticmethod
    def valid_id(session_id: str) -> bool:
        """Whether a client-sent id may name a session: 1-128 characters of
        ``[A-Za-z0-9_-]`` (an id that could escape a directory or a key space is not)."""
        return 0 < len(session_id) <= MAX_ID_LENGTH and (
            (session_id.isascii() and session_id.isalnum()) or _ID_CHARS.issuperset(session_id)
        )

    def generate_id(self) -> str:
        """A new id: 160 bits from the OS's CSPRNG, as 40 hex digits."""
        return os.urandom(20).hex()

    #: The current time, ``datetime.datetime.now()`` (override with a method to use
    #: another clock or zone); called as it is, without a Python frame of its own.
    now: Callable[..., datetime.datetime] = staticmethod(datetime.datetime.now)

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data (call it on login: an id seen
        before login is then worthless)."""
        if not self.loaded and self._id is not None:
            self.load()
        self.regenerated = True
        self._regenerate()

    def _regenerate(self) -> None:
        old = self._id
        if old is not None:
            self._delete()
        was_locked = self.locked
        if was_locked:
            self.release_lock()
        self.id = None
        while self._id is None:
            self.id = self.generate_id()
            if self._exists():
                self._id = None
        if was_locked:
            self.acquire_lock()
        if self.debug:
            log(f"New session id {self._id!r}.")

    # -- load and save -----------------------------------------------------------------
    def load(self) -> None:
        """Read the session's data from the store (expired data reads as empty)."""
        try:
            data = self._load()
        except CorruptSession as exc:
            log(
                f"Session {self._id!r} in {type(self).__name__} could not be read "
                f"({exc}); starting a new session.",
                logging.WARNING,
            )
            self._data = {}
            self.loaded = True
            self._regenerate()
            return
        if data is None or data[1] < self.now():
            self._data = {}
        else:
            self._data = data[0]
        self.loaded = True
        cls = type(self)
        if cls._needs_cleanup and self.clean_freq and not cls.clean_thread:
            engine = context.site.engine
            if engine is not None:
                # A detached copy runs the clean-ups: the monitor must not keep this
                # request's session (its data, its observers) alive.
                cleaner = copy.copy(self)
                cleaner.id_observers = []
                cleaner._data = {}
                cleaner.loaded = cleaner.locked = False
                monitor = Monitor(
                    engine, cleaner.clean_up, self.clean_freq * 60, name="Session cleanup"
                )
                monitor.subscribe()
                cls.clean_thread = monitor
                monitor.start()

    def save(self) -> None:
        """Write the data back if it was loaded, then release the lock."""
        try:
            if self.loaded:
                self._save(self.now() + _minutes(self.timeout))
        finally:
            if self.locked:
                self.release_lock()

    def delete(self) -> None:
        """Delete the session from the store (a new one starts if data is set again)."""
        self._delete()
        self._data = {}
        self.loaded = False

    def clean_up(self) -> None:
        """Remove expired sessions (run every ``clean_freq`` minutes)."""

    # -- what stores implement ---------------------------------------------------------
    def _exists(self) -> bool:
        raise NotImplementedError

    def _load(self) -> tuple[dict[Any, Any], datetime.datetime] | None:
        raise NotImplementedError

    def _save(self, expiration_time: datetime.datetime) -> None:
        raise NotImplementedError

    def _delete(self) -> None:
        raise NotImplementedError

    def acquire_lock(self) -> None:
        raise NotImplementedError

    def release_lock(self) -> None:
        raise NotImplementedError

    # -- the dict interface (each loads first) -----------------------------------------
    def __getitem__(self, key: Any) -> Any:
        if not self.loaded:
            self.load()
        return self._data[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        if not self.loaded:
            self.load()
        self._data[key] = value

    def __delitem__(self, key: Any) -> None:
        if not self.loaded:
            self.load()
        del self._data[key]

    def __contains__(self, key: Any) -> bool:
        if not self.loaded:
            self.load()
        return key in self._data

    def __iter__(self) -> Any:
        if not self.loaded:
            self.load()
        return iter(self._data)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (``default`` if absent, else KeyError)."""
        if not self.loaded:
            self.load()
        if default is _MISSING:
            return self._data.pop(key)
        return self._data.pop(key, default)

    def get(self, key: Any, default: Any = None) -> Any:
        if not self.loaded:
            self.load()
        return self._data.get(key, default)

    def update(self, d: Any) -> None:
        if not self.loaded:
            self.load()
        self._data.update(d)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if not self.loaded:
            self.load()
        return self._data.setdefault(key, default)

    def clear(self) -> None:
        if not self.loaded:
            self.load()
        self._data.clear()

    def keys(self) -> Any:
        if not self.loaded:
            self.load()
        return self._data.keys()

    def items(self) -> Any:
        if not self.loaded:
            self.load()
        return self._data.items()

    def values(self) -> Any:
        if not self.loaded:
            self.load()
        return self._data.values()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._id!r} loaded={self.loaded}>"


class RamSession(Session):
    """Sessions in this process's memory (lost on restart; one set per worker
    process: use ``RedisSession`` or ``MemcachedSession`` with several workers)."""

    #: id -> (data, expiration time)
    cache: ClassVar[dict[str, tuple[dict[Any, Any], datetime.datetime]]] = {}
    #: id -> lock entry, while a lock is held or waited for.
    locks: ClassVar[dict[str, Any]] = {}

    def clean_up(self) -> None:
        now = self.now()
        for session_id, entry in list(self.cache.items()):
            if entry[1] <= now:
                self.cache.pop(session_id, None)

    def _exists(self) -> bool:
        entry = self.cache.get(self._id)  # type: ignore[arg-type]
        return entry is not None and entry[1] > self.now()

    def _load(self) -> tuple[dict[Any, Any], datetime.datetime] | None:
        entry = self.cache.get(self._id)  # type: ignore[arg-type]
        if entry is None:
            return None
        # A copy: a request that did not lock must not change another's dict.
        return dict(entry[0]), entry[1]

    def _save(self, expiration_time: datetime.datetime) -> None:
        self.cache[self._id] = (self._data, expiration_time)  # type: ignore[index]

    def _delete(self) -> None:
        self.cache.pop(self._id, None)  # type: ignore[arg-type]

    def acquire_lock(self) -> None:
        """Lock the session for this request (other requests of it wait)."""
        if self.locked:
            return
        session_id = self._id
        assert session_id is not None
        # acquire_local's uncontended case, inline.
        mine = _allocate_lock()
        mine.acquire()
        if self.locks.setdefault(session_id, mine) is not mine:
            mine.release()
            if not acquire_local(self.locks, session_id, self.lock_timeout):
                raise LockTimeout(session_id, self.lock_timeout or 0)
        self.locked = True

    def release_lock(self) -> None:
        if not self.locked:
            return
        self.locked = False
        lock = self.locks.pop(self._id, None)  # type: ignore[arg-type]
        if lock is not None:
            lock.release()

    def __len__(self) -> int:
        """The number of sessions (expired ones not yet cleaned up included)."""
        return len(self.cache)


class FileSession(Session):
    """Sessions as pickle files named ``session-<id>`` in ``storage_path``.

    They survive a restart and are shared by the processes of one host (workers);
    ``session-<id>.lock`` files hold an OS lock (``flock``) while a request holds the
    session, released by the OS if the process dies. Writes are atomic (a temporary
    file renamed over the old one).
    """

    SESSION_PREFIX = "session-"
    LOCK_SUFFIX = ".lock"
    pickle_protocol = 5  # pickle.HIGHEST_PROTOCOL on every Python we support
    #: The directory of the session files (required).
    storage_path: str | None = None
    locks: ClassVar[dict[str, Any]] = {}

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        path = kwargs.get("storage_path", self.storage_path)
        if not path:
            raise ValueError("FileSession needs a directory: set tools.sessions.storage_path.")
        kwargs["storage_path"] = os.path.abspath(path)
        self._lock_fd: int | None = None
        super().__init__(id, **kwargs)

    @classmethod
    def setup(cls, **kwargs: Any) -> None:
        """Set the class's options (``storage_path`` made absolute)."""
        if kwargs.get("storage_path"):
            kwargs["storage_path"] = os.path.abspath(kwargs["storage_path"])
        for key, value in kwargs.items():
            setattr(cls, key, value)

    def _get_file_path(self, session_id: str | None = None) -> str:
        session_id = self._id if session_id is None else session_id
        assert self.storage_path is not None and session_id is not None
        path = os.path.join(self.storage_path, self.SESSION_PREFIX + session_id)
        if os.path.dirname(os.path.abspath(path)) != self.storage_path:
            raise ValueError(f"session id {session_id!r} escapes the storage path")
        return path

    def _read(self, path: str) -> tuple[dict[Any, Any], datetime.datetime] | None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        # Lazy: pickle costs ~0.35 MiB per process; only the stores that serialize need it.
        import pickle

        try:
            value = pickle.loads(data)
            if not (isinstance(value, tuple) and len(value) == 2):
                raise TypeError(f"a {type(value).__name__}, not (data, expiration)")
            return value  # type: ignore[no-any-return]
        except Exception as exc:
            raise CorruptSession(f"{path}: {exc}") from None

    def _exists(self) -> bool:
        path = self._get_file_path()
        try:
            entry = self._read(path)
        except CorruptSession as exc:
            log(f"{exc}: a new session instead.", logging.WARNING)
            return False
        return entry is not None and entry[1] > self.now()

    def _load(self) -> tuple[dict[Any, Any], datetime.datetime] | None:
        return self._read(self._get_file_path())

    def _save(self, expiration_time: datetime.datetime) -> None:
        path = self._get_file_path()
        tmp = os.path.join(
            self.storage_path,  # type: ignore[arg-type]
            f".{self.SESSION_PREFIX}{self._id}.{os.urandom(4).hex()}.tmp",
        )
        # Lazy: pickle costs ~0.35 MiB per process; only the stores that serialize need it.
        import pickle

        with open(tmp, "wb") as f:
            pickle.dump((self._data, expiration_time), f, self.pickle_protocol)
        os.replace(tmp, path)

    def _delete(self) -> None:
        try:
            os.unlink(self._get_file_path())
        except FileNotFoundError:
            pass

    def acquire_lock(self) -> None:
        """Lock the session: first among this process's threads, then across
        processes with ``flock`` on ``session-<id>.lock``."""
        if self.locked:
            return
        assert self._id is not None
        timeout = self.lock_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        if not acquire_local(self.locks, self._id, timeout):
            raise LockTimeout(self._id, timeout or 0)
        try:
            self._lock_fd = _flock(self._get_file_path() + self.LOCK_SUFFIX, deadline)
        except BaseException:
            release_local(self.locks, self._id)
            raise
        if self._lock_fd is None:
            release_local(self.locks, self._id)
            raise LockTimeout(self._id, timeout or 0)
        self.locked = True

    def release_lock(self) -> None:
        if not self.locked:
            return
        self.locked = False
        fd, self._lock_fd = self._lock_fd, None
        try:
            if fd is not None:
                # Unlinked while still held: a waiter that opened the old file notices
                # (its inode is no longer the path's) and opens the new one.
                try:
                    os.unlink(self._get_file_path() + self.LOCK_SUFFIX)
                except FileNotFoundError:
                    pass
                os.close(fd)
        finally:
            release_local(self.locks, self._id)  # type: ignore[arg-type]

    def clean_up(self) -> None:
        """Delete expired (and unreadable) session files that no request holds."""
        now = self.now()
        storage = self.storage_path
        assert storage is not None
        try:
            names = os.listdir(storage)
        except FileNotFoundError:
            return  # the directory is gone: nothing to clean
        for name in names:
            if not name.startswith(self.SESSION_PREFIX) or name.endswith(self.LOCK_SUFFIX):
                continue
            session_id = name[len(self.SESSION_PREFIX) :]
            if not self.valid_id(session_id):
                continue
            path = os.path.join(storage, name)
            if not acquire_local(self.locks, session_id, 0):
                continue
            try:
                fd = _flock(path + self.LOCK_SUFFIX, time.monotonic())
                if fd is None:
                    continue
                try:
                    try:
                        entry = self._read(path)
                        stale = entry is not None and entry[1] < now
                    except CorruptSession:
                        stale = True
                    if stale:
                        os.unlink(path)
                finally:
                    try:
                        os.unlink(path + self.LOCK_SUFFIX)
                    except FileNotFoundError:
                        pass
                    os.close(fd)
            finally:
                release_local(self.locks, session_id)

    def __len__(self) -> int:
        """The number of session files (expired ones not yet cleaned up included)."""
        return sum(
            1
            for name in os.listdir(self.storage_path)  # type: ignore[arg-type]
            if name.startswith(self.SESSION_PREFIX) and not name.endswith(self.LOCK_SUFFIX)
        )


def _flock(path: str, deadline: float | None) -> int | None:
    """An fd holding an exclusive ``flock`` on ``path`` (created if needed), or None
    once ``deadline`` (``time.monotonic()``) passed."""
    delay = 0.001
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
            continue
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        # The holder removed the file as it released it: lock the current one.
        os.close(fd)
