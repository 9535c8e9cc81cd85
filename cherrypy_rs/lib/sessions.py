"""Sessions (``cherrypy.lib.sessions``): per-user data kept between requests under an
id the client carries in a cookie.

Turn them on with ``tools.sessions.on = True`` and use ``cherrypy.session`` as a dict::

    count = cherrypy.session.get("count", 0) + 1
    cherrypy.session["count"] = count

The data is read from the store on first use in a request (lazy load) and written
back at the end of it only if it was read (after the last chunk when the response is
streamed). ``tools.sessions.locking`` says when a request takes the session's lock:
``implicit`` (before the handler, the default), ``early`` (before the request body is
read) or ``explicit`` (``cherrypy.session.acquire_lock()`` in the handler); the lock is
always released when the request ends, whatever happened.

Stores: ``RamSession`` (the default), ``FileSession``, ``MemcachedSession`` and
``RedisSession`` (see docs/sessions.md for choosing one). ``expire()`` ends the
session's cookie; ``cherrypy.tools.sessions.regenerate()`` gives the session a new id
(call it on login).
"""

from __future__ import annotations

import logging
import sys
import time
from time import time as _time
from typing import Any

from .. import context, cookies
from ..context import _current
from ..errors import HTTPError
from ..hooks import Hook
from ..toolbox import Tool
from . import is_iterator
from .httputil import HTTPDate
from .session_remote import MemcachedSession, RedisSession
from .session_store import (
    MAX_ID_LENGTH,
    CorruptSession,
    FileSession,
    LockTimeout,
    RamSession,
    Session,
    log,
)

__all__ = [
    "MAX_ID_LENGTH",
    "CorruptSession",
    "FileSession",
    "LockTimeout",
    "MemcachedSession",
    "RamSession",
    "RedisSession",
    "Session",
    "SessionProxy",
    "SessionTool",
    "close",
    "expire",
    "init",
    "save",
    "set_response_cookie",
]

_STORES = {
    "ram": RamSession,
    "file": FileSession,
    "memcached": MemcachedSession,
    "redis": RedisSession,
}
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
#: Store options any built-in store knows (a config may name them whatever the store:
#: CherryPy's own tests give storage_path to RamSession).
_STORE_KEYS = frozenset(
    name
    for cls in (Session, *_STORES.values())
    for name in dir(cls)
    if not name.startswith("_") and not callable(getattr(cls, name, None))
) | {"storage_path", "servers", "url"}
#: The storage classes set up so far, with the settings they were set up with.
_set_up: dict[type, dict[str, Any]] = {}
#: (storage class, option names) whose names were found valid.
_checked: set[tuple[Any, ...]] = set()
#: The second a cookie expires (``int(now + lifetime)``) -> its expires date.
_expires: dict[int, str] = {}


def _cookie_value(request: Any, name: str) -> str | None:
    """The value of cookie ``name`` in the request, as ``request.cookie`` holds it
    (without building that jar for a header of plain pairs, unless the application
    already did); None when absent."""
    jar = request.__dict__.get("cookie")
    if jar is None:
        header = request._header("Cookie")
        if not header:
            return None
        if header.startswith(name) and header[len(name) : len(name) + 1] == "=":
            # The header is this one cookie, of letters and digits (an id we gave):
            # what parse_simple gives, for a name it takes.
            value = header[len(name) + 1 :]
            if value.isalnum() and value.isascii() and _SIMPLE_NAMES[name]:
                return value
        pairs = cookies.parse_simple(header)
        if pairs is not None:
            return pairs.get(name)
        # Anything else is read by SimpleCookie (a header it refuses: 400, as CherryPy).
        jar = request.cookie
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None  # type: ignore[no-any-return]


class _SimpleNames(dict):  # type: ignore[type-arg]
    """Cookie name -> whether ``parse_simple`` takes it as it is (then a header of
    ``name=value`` alone is read without it), worked out on first use."""

    def __missing__(self, name: str) -> bool:
        ok = cookies.parse_simple(f"{name}=x") == {name: "x"}
        if len(self) < 64:
            self[name] = ok
        return ok


_SIMPLE_NAMES = _SimpleNames()


def _expires_date(seconds: float) -> str:
    """``HTTPDate(now + seconds)`` as CherryPy sends it (the second it falls in),
    computed once per such second."""
    expiry = int(time.time() + seconds)
    date = _expires.get(expiry)
    if date is None:
        if len(_expires) > 64:
            _expires.clear()
        date = _expires[expiry] = HTTPDate(expiry)
    return date


def current() -> Session:
    """The current request's session; AttributeError when sessions are off."""
    request = context.request_or_raise()
    sess = request.__dict__.get("_session")
    if sess is None:
        raise AttributeError(
            "cherrypy.session exists only while a request is handled by a path with "
            "tools.sessions.on = True"
        )
    return sess  # type: ignore[no-any-return]


_PACKAGE = __name__.split(".", 1)[0]


def _package() -> Any:
    return sys.modules.get(_PACKAGE)


def init(
    storage_type: str | None = None,
    path: str | None = None,
    path_header: str | None = None,
    name: str = "session_id",
    timeout: float = 60,
    domain: str | None = None,
    secure: bool = False,
    clean_freq: float = 5,
    persistent: bool = True,
    httponly: bool = False,
    samesite: str | None = None,
    debug: bool = False,
    **kwargs: Any,
) -> None:
    """``tools.sessions`` (at ``before_request_body``): make ``cherrypy.session`` for
    this request, from the id in the ``name`` cookie when the store holds a live
    session under it (else a new id), and set the cookie on the response.

    ``timeout`` and ``clean_freq`` are in minutes; ``persistent=False`` makes a
    browser-session cookie (no Max-Age); ``storage_class`` (or the older
    ``storage_type``: "ram", "file", "memcached", "redis") picks the store, and the
    remaining keys are the store's options.
    """
    request = context.request_or_raise()
    if request.__dict__.get("_session_init_flag"):
        return
    request._session_init_flag = True  # type: ignore[attr-defined]
    settings = _Settings(
        storage_type,
        path,
        path_header,
        name,
        timeout,
        domain,
        secure,
        clean_freq,
        persistent,
        httponly,
        samesite,
        debug,
        kwargs,
    )
    _start(request, settings)


class _Settings:
    """What ``init``'s arguments decide, worked out once per path for a compiled
    path (see ``SessionTool._plan_hooks``), else for each request."""

    __slots__ = (
        "checked",
        "cookie_args",
        "cookie_attrs",
        "debug",
        "last_expires",
        "lifetime",
        "max_age",
        "name",
        "observer",
        "path_header",
        "setup_kwargs",
        "storage_class",
        "store_kwargs",
        "template",
    )

    def __init__(
        self,
        storage_type: str | None,
        path: str | None,
        path_header: str | None,
        name: str,
        timeout: float,
        domain: str | None,
        secure: bool,
        clean_freq: float,
        persistent: bool,
        httponly: bool,
        samesite: str | None,
        debug: bool,
        kwargs: dict[str, Any],
    ) -> None:
        kwargs = dict(kwargs)
        storage_class = kwargs.pop("storage_class", None)
        if storage_type:
            try:
                storage_class = _STORES[storage_type.lower()]
            except KeyError:
                raise ValueError(
                    f"tools.sessions.storage_type = {storage_type!r}: use one of "
                    f"{', '.join(_STORES)} (or tools.sessions.storage_class)"
                ) from None
        if storage_class is None:
            storage_class = RamSession
        checked = (storage_class, *kwargs)
        if checked not in _checked:
            problem = _unknown_store_option(storage_class, kwargs)
            if problem:
                raise ValueError(problem)
            _checked.add(checked)
        self.checked = checked
        self.storage_class = storage_class
        self.cookie_args: dict[str, Any] = {
            "path": path,
            "path_header": path_header,
            "name": name,
            "timeout": timeout if persistent else None,
            "domain": domain,
            "secure": secure,
            "httponly": httponly,
            "samesite": samesite,
        }
        self.name = name
        self.debug = debug
        attrs = self._cookie_shortcut(path, path_header, timeout if persistent else None, domain)
        #: The cookie's attributes for _set_cookie_fast; None: set_response_cookie.
        self.cookie_attrs: dict[str, Any] | None = (
            attrs if self._plain(name, samesite, secure, attrs) else None
        )
        #: (the second a cookie expires, its expires date).
        self.last_expires: tuple[int, str] = (0, "")
        #: The Set-Cookie text rendered once (the id and the expiry date filled in per
        #: request), when the cookie's path does not come from a request header.
        self.template: cookies.SetCookie | None = None
        if self.cookie_attrs is not None and self.path_header is None:
            try:
                self.template = cookies.SetCookie(
                    name, self.cookie_attrs, has_expires=self.max_age is not None
                )
            except ValueError:
                self.template = None
        #: The store's options: what ``storage_class.setup`` gets.
        self.setup_kwargs = kwargs
        self.store_kwargs = {**kwargs, "timeout": timeout, "clean_freq": clean_freq}
        self.observer = _CookieFollower(name)

    def _cookie_shortcut(
        self, path: str | None, path_header: str | None, timeout: float | None, domain: Any
    ) -> dict[str, Any]:
        """The cookie attributes ``set_response_cookie`` gives every response of
        the path (``_set_cookie_fast`` adds the expiry date and a path from a header)."""
        args = self.cookie_args
        attrs: dict[str, Any] = {}
        self.path_header = None
        if path or not path_header:
            attrs["path"] = path or "/"
        else:
            self.path_header = path_header
        self.max_age = None
        #: Seconds from now to the cookie's expires date (``timeout`` may be a fraction
        #: of a minute: CherryPy adds ``timeout * 60`` to the time, then formats).
        self.lifetime = timeout * 60 if timeout else None
        if timeout:
            self.max_age = attrs["max-age"] = int(timeout * 60)
        if domain is not None:
            attrs["domain"] = domain
        if args["secure"]:
            attrs["secure"] = True
        if args["httponly"]:
            attrs["httponly"] = True
        return attrs

    @staticmethod
    def _plain(name: str, samesite: Any, secure: bool, attrs: dict[str, Any]) -> bool:
        """Whether ``_set_cookie_fast`` may set the cookie: a name that needs no
        quoting and a ``samesite`` value ``set_response_cookie`` takes (it is added
        to ``attrs``)."""
        if cookies.new_morsel(name, "x") is None:
            return False
        if samesite:
            value = _SAMESITE.get(str(samesite).lower())
            if value is None or (value == "None" and not secure):
                return False
            attrs["samesite"] = value
        return True


class _CookieFollower:
    """A session's id observer: the cookie (of the response being built then: the
    session must not keep a response alive) follows the id."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, new_id: str | None) -> None:
        context.response_or_raise().cookie[self.name] = new_id or ""


def _start(request: Any, settings: _Settings, set_up: bool = False, response: Any = None) -> None:
    """``init``'s work once its arguments are settled (``set_up``: the store is known
    to be set up with the settings' options; ``response``: the current one)."""
    cookie_args = settings.cookie_args
    prev = request.prev
    previous = prev.__dict__.get("_session") if prev is not None else None
    if previous is not None:
        # An internal redirect: the same session (and the lock it may hold) goes on.
        request._session = previous
        request._session_cookie = cookie_args
        set_response_cookie(**cookie_args)
        return

    package = _package()
    first_time = package is not None and not hasattr(package, "session")
    if first_time:
        package.session = SessionProxy()
    storage_class = settings.storage_class
    if (first_time or not set_up) and hasattr(storage_class, "setup"):
        kwargs = settings.setup_kwargs
        if first_time or _set_up.get(storage_class) != kwargs:
            storage_class.setup(**kwargs)
            _set_up[storage_class] = dict(kwargs)

    session_id = _cookie_value(request, settings.name)
    debug = settings.debug
    if debug and session_id is not None:
        log(f"ID obtained from request.cookie: {session_id!r}")
    sess = storage_class(session_id, **settings.store_kwargs)
    if debug or sess.debug:
        sess.debug = debug
    state = request.__dict__
    state["_session"] = sess
    state["_session_cookie"] = cookie_args
    sess.id_observers.append(settings.observer)
    if response is None:
        response = context.response_or_raise()
    if not _set_cookie_fast(request, response, sess.id, settings):
        set_response_cookie(**cookie_args)


def _set_cookie_fast(
    request: Any, response: Any, session_id: str | None, settings: _Settings
) -> bool:
    """``set_response_cookie(**cookie_args)`` for a new cookie whose name and value need
    no quoting, with a valid ``samesite``; False (nothing done) otherwise."""
    attrs = settings.cookie_attrs
    if attrs is None:
        return False
    template = settings.template
    if (
        template is not None
        and session_id
        # Letters and digits (ids as generated) need no quoting.
        and ((session_id.isalnum() and session_id.isascii()) or template.plain(session_id))
    ):
        lifetime = settings.lifetime
        expires = None
        if lifetime is not None:
            # The date changes once a second: the last one is kept with the path's
            # settings (a pair, replaced whole: threads may race to replace it).
            expiry = int(_time() + lifetime)
            last = settings.last_expires
            if last[0] == expiry:
                expires = last[1]
            else:
                expires = HTTPDate(expiry)
                settings.last_expires = (expiry, expires)
        if response._set_cookie_text(template, session_id, expires):
            return True
    name = settings.name
    jar = response.cookie
    if name in jar:
        return False
    morsel = cookies.new_morsel(name, session_id or "")
    if morsel is None:
        return False
    dict.__setitem__(jar, name, morsel)
    # Morsel keys as Morsel.__setitem__ stores them (lower case, reserved).
    dict.update(morsel, attrs)
    path_header = settings.path_header
    if path_header is not None:
        dict.__setitem__(morsel, "path", request.headers.get(path_header) or "/")
    lifetime = settings.lifetime
    if lifetime is not None:
        dict.__setitem__(morsel, "expires", _expires_date(lifetime))
    return True


class _InitHook(Hook):
    """The hook ``tools.sessions`` attaches at ``before_request_body`` on a compiled
    path: ``init`` with the path's arguments (``callback`` and ``kwargs`` are those),
    run with the ``_Settings`` worked out from them once."""

    def __init__(self, settings: _Settings, priority: float, kwargs: dict[str, Any]) -> None:
        super().__init__(init, priority=priority, **kwargs)
        self.settings = settings

    def __call__(self) -> None:
        settings = self.settings
        request, response = _current.get() or context.outside_request()
        state = request.__dict__
        if state.get("_session_init_flag"):
            return
        if settings.checked not in _checked or (
            hasattr(settings.storage_class, "setup")
            and _set_up.get(settings.storage_class) != settings.setup_kwargs
        ):
            # Another path set the store up with other options since: init redoes it.
            init(**self.kwargs)
            return
        state["_session_init_flag"] = True
        _start(request, settings, set_up=True, response=response)

    def __repr__(self) -> str:
        # As the plain Hook init would be (tools.log_hooks shows it).
        return Hook.__repr__(self).replace(f"{__name__}._InitHook(", f"{Hook.__module__}.Hook(", 1)


def _settings_for(conf: dict[str, Any]) -> _Settings | None:
    """``_Settings`` for ``init(**conf)``, or None when a ``samesite`` value makes
    ``set_response_cookie`` raise (each request then raises it)."""

    # Lazy: inspect costs ~2.6 MiB per process; only paths with sessions need it.
    import inspect

    bound = inspect.signature(init).bind(**conf)
    bound.apply_defaults()
    args = bound.arguments
    named = [value for name, value in args.items() if name != "kwargs"]
    settings = _Settings(*named, args.get("kwargs", {}))  # type: ignore[call-arg]
    samesite = settings.cookie_args["samesite"]
    if samesite and _SAMESITE.get(str(samesite).lower()) is None:
        return None
    return settings


def set_response_cookie(
    path: str | None = None,
    path_header: str | None = None,
    name: str = "session_id",
    timeout: float | None = 60,
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = None,
) -> None:
    """Set the session cookie on the response: ``Path`` (``path``, else the
    ``path_header`` request header, else "/"), ``Max-Age``/``expires`` from
    ``timeout`` minutes (none: a browser-session cookie), ``Domain``, ``Secure``,
    ``HttpOnly`` and ``SameSite`` ("Strict", "Lax" or "None")."""
    request = context.request_or_raise()
    cookie = context.response_or_raise().cookie
    cookie[name] = current().id or ""
    morsel = cookie[name]
    morsel["path"] = path or (request.headers.get(path_header) if path_header else None) or "/"
    if timeout:
        morsel["max-age"] = int(timeout * 60)
        morsel["expires"] = _expires_date(timeout * 60)
    if domain is not None:
        morsel["domain"] = domain
    if secure:
        morsel["secure"] = True
    if httponly:
        morsel["httponly"] = True
    if samesite:
        value = _SAMESITE.get(str(samesite).lower())
        if value is None:
            raise ValueError(
                f"tools.sessions.samesite = {samesite!r}: use 'Strict', 'Lax' or 'None'"
            )
        if value == "None" and not secure:
            raise ValueError(
                "tools.sessions.samesite = 'None' needs tools.sessions.secure = True "
                "(browsers drop such cookies otherwise)"
            )
        morsel["samesite"] = value


def save() -> None:
    """``before_finalize``: write the session back (if it was loaded) and release the
    lock; for a streamed response, after the last chunk instead."""
    request, response = _current.get() or context.outside_request()
    state = request.__dict__
    sess = state.get("_session")
    if sess is None or state.get("_session_saved"):
        return
    state["_session_saved"] = True
    if response.stream:
        request.hooks.attach("on_end_request", _save_streamed)
    else:
        body = response.body
        if body.__class__ is not list and body.__class__ is not bytes and is_iterator(body):
            response.collapse_body()
        sess.save()


save.failsafe = True  # type: ignore[attr-defined]


def _save_streamed() -> None:
    """Save after a streamed body was sent (the response can no longer change, so a
    store failure is only logged, by the store)."""
    sess = context.request_or_raise().__dict__.get("_session")
    if sess is not None:
        try:
            sess.save()
        except HTTPError:
            pass


def _release_unless_streaming() -> None:
    """``on_end_resource``: release the lock now unless a streamed response still has to
    save the session. This request's ``on_end_request`` may never run: an internal
    redirect ends it there, and the path it goes to may not use sessions."""
    request, response = _current.get() or context.outside_request()
    state = request.__dict__
    sess = state.get("_session")
    if sess is None or not sess.locked:
        return
    if state.get("_session_saved") and response.stream:
        return
    sess.release_lock()


def close() -> None:
    """``on_end_request``: release the session's lock if the request still holds it."""
    pair = _current.get()
    sess = pair[0].__dict__.get("_session") if pair is not None else None
    if sess is not None and sess.locked:
        sess.release_lock()
        if sess.debug:
            log("Lock released on close.")


close.failsafe = True  # type: ignore[attr-defined]
close.priority = 90  # type: ignore[attr-defined]


def expire() -> None:
    """Expire the session cookie in the client (call it on logout, with
    ``cherrypy.session.delete()`` to drop the data too)."""
    request = context.request_or_raise()
    name = request.config.get("tools.sessions.name", "session_id")
    cookie = context.response_or_raise().cookie
    if name not in cookie:
        cookie[name] = ""
        cookie[name]["path"] = "/"
    one_year = 60 * 60 * 24 * 365
    cookie[name]["expires"] = HTTPDate(time.time() - one_year)
    # Max-Age would win over Expires (RFC 6265 §5.3): drop it, as CherryPy does.
    cookie[name]["max-age"] = ""


def _unknown_store_option(storage_class: Any, keys: Any) -> str | None:
    """The message for the first of ``keys`` that no store takes, or None."""
    for key in keys:
        if key not in _STORE_KEYS and not hasattr(storage_class, key):
            return f"tools.sessions.{key} is not an option of {storage_class.__name__}"
    return None


class SessionTool(Tool):
    """``tools.sessions``: ``init`` at ``before_request_body``, the lock as
    ``locking`` says, ``save`` at ``before_finalize`` and ``close`` at the end."""

    def __init__(self) -> None:
        super().__init__("before_request_body", init)

    @staticmethod
    def _lock_session() -> None:
        _current_session().acquire_lock()

    def _setup(self) -> None:
        hooks = context.request_or_raise().hooks
        conf = self._merged_args()
        priority = conf.pop("priority", None)
        if priority is None:
            priority = getattr(self.callable, "priority", self._priority)
        locking = conf.pop("locking", "implicit")
        hooks.attach("before_request_body", self.callable, priority=priority, **conf)
        if locking == "implicit":
            hooks.attach("before_handler", self._lock_session)
        elif locking == "early":
            # After init (priority 50), before the body is read.
            hooks.attach("before_request_body", self._lock_session, priority=60)
        elif locking != "explicit":
            raise ValueError(
                f"tools.sessions.locking = {locking!r}: use 'implicit', 'early' or 'explicit'"
            )
        hooks.attach("before_finalize", save)
        hooks.attach("on_end_resource", _release_unless_streaming, failsafe=True, priority=90)
        hooks.attach("on_end_request", close)

    def _plan_hooks(self, toolmaps: dict[str, dict[str, Any]]) -> list[tuple[str, Hook]] | None:
        """The hooks of ``_setup()``, built once for the path; ``init``'s arguments
        are worked out then too (see ``_InitHook``)."""
        cls = type(self)
        if cls._setup is not SessionTool._setup or cls._merged_args is not Tool._merged_args:
            return None
        priority, conf = self._hook_args(toolmaps)
        locking = conf.pop("locking", "implicit")
        if locking not in ("implicit", "early", "explicit"):
            return None  # _setup() raises, for each request
        init_hook: Hook | None = None
        if self.callable is init:
            try:
                settings = _settings_for(conf)
            except (TypeError, ValueError):
                settings = None  # init raises, for each request
            if settings is not None:
                init_hook = _InitHook(settings, priority, conf)
        hooks: list[tuple[str, Hook]] = [
            ("before_request_body", init_hook or Hook(self.callable, priority=priority, **conf))
        ]
        if locking == "implicit":
            hooks.append(("before_handler", Hook(self._lock_session)))
        elif locking == "early":
            hooks.append(("before_request_body", Hook(self._lock_session, priority=60)))
        hooks.append(("before_finalize", Hook(save)))
        hooks.append(
            ("on_end_resource", Hook(_release_unless_streaming, failsafe=True, priority=90))
        )
        hooks.append(("on_end_request", Hook(close)))
        return hooks

    def regenerate(self) -> None:
        """Give the current session a new id (keeping its data) and send it in the
        cookie: call it when the user logs in."""
        sess = current()
        sess.regenerate()
        cookie_args = context.request_or_raise().__dict__.get("_session_cookie") or {}
        set_response_cookie(**cookie_args)

    def arguments(self) -> tuple[set[str], bool]:
        names, _ = super().arguments()
        # Stores take options of their own (and custom stores any): check_arguments
        # looks at them against the store the section names.
        return names | {"storage_class", "locking"} | set(_STORE_KEYS), True

    def check_arguments(self, args: dict[str, Any]) -> str | None:
        """At start: the first option no store takes (the same rule ``init`` applies),
        or a ``storage_type`` that names no store."""
        storage_class = args.get("storage_class") or RamSession
        storage_type = args.get("storage_type")
        if storage_type:
            storage_class = _STORES.get(str(storage_type).lower())
            if storage_class is None:
                return (
                    f"tools.sessions.storage_type = {storage_type!r}: use one of "
                    f"{', '.join(_STORES)} (or tools.sessions.storage_class)"
                )
        locking = args.get("locking", "implicit")
        if locking not in ("implicit", "early", "explicit"):
            return f"tools.sessions.locking = {locking!r}: use 'implicit', 'early' or 'explicit'"
        samesite = args.get("samesite")
        if samesite and str(samesite).lower() not in _SAMESITE:
            return f"tools.sessions.samesite = {samesite!r}: use 'Strict', 'Lax' or 'None'"
        own = set(super().arguments()[0]) | {"storage_class", "locking", "storage_type"}
        return _unknown_store_option(storage_class, [k for k in args if k not in own])


def _current_session() -> Session:
    """``current()``, one call shorter for the proxy's common case."""
    pair = _current.get()
    if pair is not None:
        sess = pair[0].__dict__.get("_session")
        if sess is not None:
            return sess  # type: ignore[no-any-return]
    return current()


class SessionProxy:
    """``cherrypy.session``: the current request's ``Session`` (dict-like)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        pair = _current.get()
        sess = pair[0].__dict__.get("_session") if pair is not None else None
        return getattr(current() if sess is None else sess, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(_current_session(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(_current_session(), name)

    def __getitem__(self, key: Any) -> Any:
        pair = _current.get()
        sess = pair[0].__dict__.get("_session") if pair is not None else None
        return (current() if sess is None else sess)[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        pair = _current.get()
        sess = pair[0].__dict__.get("_session") if pair is not None else None
        (current() if sess is None else sess)[key] = value

    def __delitem__(self, key: Any) -> None:
        del _current_session()[key]

    def __contains__(self, key: Any) -> bool:
        return key in _current_session()

    def __iter__(self) -> Any:
        return iter(_current_session())

    def __len__(self) -> int:
        return len(_current_session())  # type: ignore[arg-type]

    def __bool__(self) -> bool:
        request = context.request_or_none()
        return request is not None and request.__dict__.get("_session") is not None

    def __repr__(self) -> str:
        request = context.request_or_none()
        sess = request.__dict__.get("_session") if request is not None else None
        return f"<cherrypy.session {sess!r}>" if sess is not None else "<cherrypy.session (none)>"


def _uses_ram_sessions(config: dict[str, Any]) -> bool:
    if not config.get("tools.sessions.on"):
        return False
    storage_class = config.get("tools.sessions.storage_class")
    storage_type = str(config.get("tools.sessions.storage_type") or "ram").lower()
    if storage_class is None:
        return storage_type == "ram"
    return isinstance(storage_class, type) and issubclass(storage_class, RamSession)


def check_application(app: Any, script_name: str, global_config: dict[str, Any]) -> None:
    """A mount check: warn when a process of several (``--workers N``) mounts an
    application whose sessions are in RAM (each worker would have its own)."""
    # Lazy: inspect costs ~2.6 MiB per process (see _settings_for).
    from inspect import getattr_static

    server = context.site.server
    if server is None or not getattr(server, "multiprocess", False):
        return
    sections: list[dict[str, Any]] = [global_config]
    sections.extend(v for v in (getattr(app, "config", None) or {}).values() if isinstance(v, dict))
    root = getattr(app, "root", None)
    # The root and what its class and instance hold, read without running properties.
    members = [*vars(type(root)).values(), *getattr(root, "__dict__", {}).values()]
    for obj in (root, *members):
        try:
            conf = getattr_static(obj, "_cp_config", None)
        except Exception:
            continue
        if isinstance(conf, dict):
            sections.append(conf)
    if any(_uses_ram_sessions(section) for section in sections):
        log(
            f"The application at {script_name or '/'!r} keeps sessions in RAM "
            "(RamSession) while several worker processes serve it: each worker has its "
            "own sessions, so a user's next request may not find theirs. Use "
            "RedisSession or MemcachedSession (or FileSession on one host) with --workers.",
            logging.WARNING,
        )
