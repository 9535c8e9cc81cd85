"""``cherrypy.lib.caching``: ``tools.caching`` (a memory cache of whole responses)
and ``tools.expires``.

``get()`` runs before the handler: a fresh cached variant for the URL (and the request
headers its ``Vary`` names) is sent as it was stored, with an ``Age`` header (or 304
when ``If-Modified-Since`` matches); otherwise ``tee_output`` stores the response
while it is sent. POST, PUT and DELETE empty the URL's entry. Concurrent requests for
a URL being computed wait up to ``antistampede_timeout`` for the first one's result.

The cache is bounded: at most ``maxobjects`` URLs, objects under ``maxobj_size``
bytes, ``maxsize`` bytes in all; entries expire ``delay`` seconds after they were
stored (a daemon thread removes them every ``expire_freq`` seconds).
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from typing import Any

from .. import context
from .._core import StaticFile
from ..errors import HTTPError, HTTPRedirect
from ..helper import url
from ..toolbox import Tool
from . import cptools, httputil
from .encoding import _FILE_CONDITIONS


class Cache:
    """The interface of a cache class (``tools.caching.cache_class``)."""

    def get(self) -> Any:
        """The cached variant for the current request, or None."""
        raise NotImplementedError

    def put(self, obj: Any, size: int) -> None:
        """Store ``obj`` (of ``size`` bytes) for the current request."""
        raise NotImplementedError

    def delete(self) -> None:
        """Drop the current request's URL."""
        raise NotImplementedError

    def clear(self) -> None:
        """Drop everything."""
        raise NotImplementedError


class _Pending(threading.Event):
    """A variant being computed: others wait for its ``result``."""

    result: Any = None


class AntiStampedeCache(dict):  # type: ignore[type-arg]
    """The variants of one URL by their selecting header values; a variant being
    computed is a ``threading.Event`` the other requests wait on."""

    selecting_headers: list[str]

    def wait(self, key: Any, timeout: float | None = 5, debug: bool = False) -> Any:
        """The variant for ``key``; when another request is computing it, wait for
        it up to ``timeout``; when there is none, mark it as being computed (by the
        caller) and return None."""
        value = self.get(key)
        if isinstance(value, threading.Event):
            if timeout is None:
                return None
            value.wait(timeout)
            result = getattr(value, "result", None)
            if result is not None:
                return result
            dict.__setitem__(self, key, _Pending())
            return None
        if value is None:
            dict.__setitem__(self, key, _Pending())
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        """Store the variant, waking the requests that wait for it."""
        existing = self.get(key)
        dict.__setitem__(self, key, value)
        if isinstance(existing, threading.Event):
            existing.result = value  # type: ignore[attr-defined]
            existing.set()


class MemoryCache(Cache):
    """Responses in memory, by URL and the values of the headers their ``Vary``
    names."""

    #: The most URLs stored at once.
    maxobjects = 1000
    #: The largest body stored (bytes).
    maxobj_size = 100000
    #: The most bytes stored in all.
    maxsize = 10000000
    #: Seconds an entry stays.
    delay = 600
    #: Seconds a request waits for another computing the same variant.
    antistampede_timeout: float | None = 5
    #: Seconds between two sweeps of the expired entries.
    expire_freq = 0.1
    debug = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()
        thread = threading.Thread(target=self.expire_cache, name="expire_cache", daemon=True)
        self.expiration_thread = thread
        thread.start()

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self.store: dict[str, AntiStampedeCache] = {}
            self.expirations: dict[float, list[tuple[int, str, tuple[str, ...]]]] = {}
            self.tot_puts = 0
            self.tot_gets = 0
            self.tot_hist = 0
            self.tot_expires = 0
            self.tot_non_modified = 0
            self.cursize = 0

    def expire_cache(self) -> None:
        """The expiration thread: remove expired entries every ``expire_freq``."""
        while True:
            self.expire()
            time.sleep(self.expire_freq)

    def expire(self, now: float | None = None) -> None:
        """Remove the entries whose time is up."""
        now = time.time() if now is None else now
        with self._lock:
            due = [t for t in self.expirations if t <= now]
            for when in due:
                for size, uri, key in self.expirations.pop(when):
                    uricache = self.store.get(uri)
                    if uricache is None or dict.pop(uricache, key, None) is None:
                        continue
                    self.tot_expires += 1
                    self.cursize -= size
                    if not uricache:
                        del self.store[uri]

    def _key(self, request: Any, selecting_headers: list[str]) -> tuple[str, ...]:
        return tuple(sorted(request.headers.get(h, "") for h in selecting_headers))

    def get(self) -> Any:
        """The stored variant for the current request (waiting for one being
        computed), or None."""
        request = context.request_or_raise()
        self.tot_gets += 1
        uricache = self.store.get(url(qs=request.query_string))
        if uricache is None:
            return None
        key = self._key(request, uricache.selecting_headers)
        variant = uricache.wait(key=key, timeout=self.antistampede_timeout, debug=self.debug)
        if variant is not None:
            self.tot_hist += 1
        return variant

    def put(self, variant: Any, size: int) -> None:
        """Store ``variant`` for the current request, if the bounds allow it."""
        request = context.request_or_raise()
        response = context.response_or_raise()
        uri = url(qs=request.query_string)
        with self._lock:
            uricache = self.store.get(uri)
            if uricache is None:
                if len(self.store) >= self.maxobjects:
                    return
                uricache = AntiStampedeCache()
                uricache.selecting_headers = [e.value for e in response.headers.elements("Vary")]
                self.store[uri] = uricache
            key = self._key(request, uricache.selecting_headers)
            total = self.cursize + size
            if size < self.maxobj_size and total < self.maxsize:
                previous = dict.get(uricache, key)
                if isinstance(previous, tuple):
                    # Replacing a variant: its bytes leave the count.
                    total -= len(previous[2])
                expiration = response.time + self.delay
                self.expirations.setdefault(expiration, []).append((size, uri, key))
                uricache[key] = variant
                self.tot_puts += 1
                self.cursize = total
            else:
                self._release(uricache, key)
                if not uricache:
                    del self.store[uri]

    @staticmethod
    def _release(uricache: AntiStampedeCache, key: Any) -> None:
        """Wake the requests waiting for a variant that will not be stored."""
        pending = dict.get(uricache, key)
        if isinstance(pending, threading.Event):
            dict.pop(uricache, key, None)
            pending.set()

    def delete(self) -> None:
        """Drop the current request's URL and all its variants."""
        uri = url(qs=context.request_or_raise().query_string)
        with self._lock:
            uricache = self.store.pop(uri, None)
            if uricache:
                for value in list(dict.values(uricache)):
                    if isinstance(value, tuple):
                        self.cursize -= len(value[2])
                    elif isinstance(value, threading.Event):
                        value.set()

    def abandon(self) -> None:
        """The current request will not store what it computed (an error, no body):
        let the requests waiting for it go."""
        request = context.request_or_raise()
        uri = url(qs=request.query_string)
        with self._lock:
            uricache = self.store.get(uri)
            if uricache is not None:
                self._release(uricache, self._key(request, uricache.selecting_headers))
                if not uricache:
                    del self.store[uri]


def _package() -> Any:
    """The cherrypy_rs package (``cherrypy._cache`` lives there, as in CherryPy)."""
    return sys.modules[__name__.split(".", 1)[0]]


def get(
    invalid_methods: Any = ("POST", "PUT", "DELETE"),
    debug: bool = False,
    **kwargs: Any,
) -> bool:
    """``tools.caching``'s work before the handler: True when the response was taken
    from the cache (``request.cached``). The first call creates ``cherrypy._cache``
    from ``cache_class`` (default ``MemoryCache``) with the other arguments as its
    attributes (``delay``, ``maxobjects``, ``maxobj_size``, ``maxsize``,
    ``antistampede_timeout``...)."""
    request = context.request_or_raise()
    response = context.response_or_raise()
    package = _package()
    cache = getattr(package, "_cache", None)
    if cache is None:
        cache = kwargs.pop("cache_class", MemoryCache)()
        for key, value in kwargs.items():
            setattr(cache, key, value)
        cache.debug = debug
        package._cache = cache
    if request.method in invalid_methods:
        cache.delete()
        request.cached = False
        request.cacheable = False
        return False
    if "no-cache" in [e.value for e in request.headers.elements("Pragma")]:
        request.cached = False
        request.cacheable = True
        return False
    cache_data = cache.get()
    request.cached = bool(cache_data)
    request.cacheable = not request.cached
    if not request.cached:
        return False
    max_age = cache.delay
    for value in [e.value for e in request.headers.elements("Cache-Control")]:
        directive, _, arg = value.partition("=")
        if directive == "max-age":
            if not arg.isdigit():
                raise HTTPError(400, "Invalid Cache-Control header")
            max_age = int(arg)
            break
        if directive == "no-cache":
            request.cached = False
            request.cacheable = True
            return False
    status, headers, body, created = cache_data
    age = int(response.time - created)
    if age > max_age:
        request.cached = False
        request.cacheable = True
        return False
    stored = httputil.HeaderMap()
    dict.update(stored, headers)
    response.headers = stored
    stored["Age"] = str(age)
    try:
        cptools.validate_since()
    except HTTPRedirect as exc:
        if exc.status == 304:
            cache.tot_non_modified += 1
        raise
    response.status = status
    response.body = body
    return True


def tee_output() -> None:
    """Store the response (status, headers, body, time) as it is sent, unless the
    request or the response says ``no-store``/``no-cache``."""
    request = context.request_or_raise()
    if "no-store" in request.headers.values("Cache-Control"):
        return
    response = context.response_or_raise()
    cache = _package()._cache

    def tee(body: Any) -> Any:
        if "no-cache" in response.headers.values("Pragma") or "no-store" in response.headers.values(
            "Cache-Control"
        ):
            abandon = getattr(cache, "abandon", None)
            if abandon is not None:
                abandon()
            yield from body
            return
        output = []
        for chunk in body:
            output.append(chunk)
            yield chunk
        data = b"".join(output)
        if not data:
            cache.delete()
        else:
            cache.put((response.status, response.headers or {}, data, response.time), len(data))

    body = response.body
    if isinstance(body, bytes):
        body = [body]
    elif isinstance(body, StaticFile):
        # A file sent by Rust: stored as bytes when small enough and not asked for
        # conditionally or by range (Rust answers those); else sent and not stored.
        data = None
        if not any(name in request.headers for name in _FILE_CONDITIONS):
            data = body.read(max(0, int(getattr(cache, "maxobj_size", 0)) - 1))
        if data is None:
            _abandon()
            return
        body = [data]
    response.body = tee(body)


def expires(secs: Any = 0, force: bool = False, debug: bool = False) -> None:
    """``tools.expires`` (``before_finalize``): ``Expires`` (and, for ``secs`` 0,
    ``Pragma: no-cache`` and ``Cache-Control: no-cache, must-revalidate``) on a
    response that looks cacheable (it has an ETag, Last-Modified, Age or Expires), or
    on any response with ``force``. ``secs`` may be a ``datetime.timedelta``."""
    response = context.response_or_raise()
    headers = response.headers
    if not force and not any(h in headers for h in ("Etag", "Last-Modified", "Age", "Expires")):
        return
    if isinstance(secs, datetime.timedelta):
        secs = 86400 * secs.days + secs.seconds
    if secs == 0:
        if force or "Pragma" not in headers:
            headers["Pragma"] = "no-cache"
        if context.request_or_raise().protocol >= (1, 1):
            if force or "Cache-Control" not in headers:
                headers["Cache-Control"] = "no-cache, must-revalidate"
        expiry = httputil.HTTPDate(1169942400.0)
    else:
        expiry = httputil.HTTPDate(response.time + secs)
    if force or "Expires" not in headers:
        headers["Expires"] = expiry


class CachingTool(Tool):
    """``tools.caching`` (``before_handler``, priority 90): answer from the cache, or
    store the response as it is sent (``tee_output`` at ``before_finalize``, 100)."""

    #: The arguments config may give (``get``'s, then the cache's attributes).
    _CACHE_ARGS = frozenset(
        {
            "cache_class",
            "delay",
            "maxobjects",
            "maxobj_size",
            "maxsize",
            "antistampede_timeout",
            "expire_freq",
        }
    )

    def _wrapper(self, **kwargs: Any) -> None:
        request = context.request_or_raise()
        if get(**kwargs):
            request.handler = None
        elif request.cacheable:
            request.hooks.attach("before_finalize", tee_output, priority=100)
            request.hooks.attach("on_end_request", _abandon, failsafe=True)

    _wrapper.priority = 90  # type: ignore[attr-defined]

    def _setup(self) -> None:
        conf = self._merged_args()
        priority = conf.pop("priority", None)
        context.request_or_raise().hooks.attach(
            "before_handler", self._wrapper, priority=priority, **conf
        )

    def arguments(self) -> tuple[set[str], bool]:
        names, _ = super().arguments()
        return names | self._CACHE_ARGS, False


def _abandon() -> None:
    """Let requests waiting for this one's variant go if it was not stored."""
    cache = getattr(_package(), "_cache", None)
    abandon = getattr(cache, "abandon", None)
    if abandon is not None:
        abandon()
