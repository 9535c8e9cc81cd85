"""Functions behind built-in tools (``cherrypy.lib.cptools``)."""

from __future__ import annotations

import logging
import re
import typing
from collections.abc import Iterator
from typing import Any

from .. import context
from ..errors import HTTPError, HTTPRedirect, InternalRedirect
from ..helper import url
from ..hooks import hookpoints
from . import is_iterator
from .httputil import HeaderMap, valid_status


def trailing_slash(
    missing: bool = True, extra: bool = False, status: int | None = None, debug: bool = False
) -> None:
    """``tools.trailing_slash``: redirect to add the final slash to an index path
    (``missing``) or to remove it from a non-index one (``extra``); 301 by default."""
    request = context.request_or_raise()
    pi = request.path_info
    if request.is_index is True:
        if missing and not pi.endswith("/"):
            raise HTTPRedirect(url(pi + "/", request.query_string), status=status or 301)
    elif request.is_index is False and extra and pi.endswith("/") and pi != "/":
        raise HTTPRedirect(url(pi[:-1], request.query_string), status=status or 301)


def log_traceback(severity: int = logging.ERROR, debug: bool = False) -> None:
    """``tools.log_tracebacks``: write the current exception's traceback to the error
    log (on by default, at ``before_error_response``)."""
    log = context.site.log
    if log is not None:
        log.error("", "HTTP", severity=severity, traceback=True)


def log_request_headers(debug: bool = False) -> None:
    """``tools.log_headers``: write the request headers to the error log (on by
    default, at ``before_error_response``)."""
    request = context.request_or_raise()
    lines = "\n".join(f"    {name}: {value}" for name, value in request.header_list)
    log = context.site.log
    if log is not None:
        log.error(f"\nRequest Headers:\n{lines}", "HTTP")


def validate_etags(autotags: bool = False, debug: bool = False) -> None:
    """``tools.etags`` (``before_finalize``, priority 75): check the response's ETag
    against ``If-Match`` (412 when none matches) and ``If-None-Match`` (304 for GET and
    HEAD, else 412, when one matches). With ``autotags`` a 200 response without an ETag
    gets one, the MD5 of its body (so the body is read whole)."""
    response = context.response_or_raise()
    if hasattr(response, "ETag"):
        return
    status, _, _ = valid_status(response.status)
    etag = response.headers.get("ETag")
    if not etag and autotags and status == 200:
        # Lazy: hashlib loads OpenSSL's libcrypto (~4 MiB in every process).
        import hashlib

        etag = f'"{hashlib.md5(response.collapse_body()).hexdigest()}"'
        response.headers["ETag"] = etag
    response.ETag = etag
    if not 200 <= status <= 299:
        return
    request = context.request_or_raise()
    conditions = [str(x) for x in request.headers.elements("If-Match")]
    if conditions and not (conditions == ["*"] or etag in conditions):
        raise HTTPError(412, f"If-Match failed: ETag {etag!r} did not match {conditions!r}")
    conditions = [str(x) for x in request.headers.elements("If-None-Match")]
    if conditions == ["*"] or etag in conditions:
        if request.method in ("GET", "HEAD"):
            raise HTTPRedirect([], 304)
        raise HTTPError(412, f"If-None-Match failed: ETag {etag!r} matched {conditions!r}")


def validate_since() -> None:
    """Check the response's Last-Modified against ``If-Unmodified-Since`` (412 when
    they differ) and ``If-Modified-Since`` (304 for GET/HEAD, else 412, when equal)."""
    response = context.response_or_raise()
    lastmod = response.headers.get("Last-Modified")
    if not lastmod:
        return
    status, _, _ = valid_status(response.status)
    request = context.request_or_raise()
    since = request.headers.get("If-Unmodified-Since")
    if since and since != lastmod and (200 <= status <= 299 or status == 412):
        raise HTTPError(412)
    since = request.headers.get("If-Modified-Since")
    if since and since == lastmod and (200 <= status <= 299 or status == 304):
        if request.method in ("GET", "HEAD"):
            raise HTTPRedirect([], 304)
        raise HTTPError(412)


def allow(methods: Any = None, debug: bool = False) -> None:
    """``tools.allow`` (``on_start_resource``): 405 unless the request's method is one
    of ``methods`` (default GET and HEAD; GET brings HEAD); always sets ``Allow``."""
    if not isinstance(methods, (tuple, list)):
        methods = [methods]
    names = [m.upper() for m in methods if m]
    if not names:
        names = ["GET", "HEAD"]
    elif "GET" in names and "HEAD" not in names:
        names.append("HEAD")
    context.response_or_raise().headers["Allow"] = ", ".join(names)
    if context.request_or_raise().method not in names:
        raise HTTPError(405)


def ignore_headers(headers: Any = ("Range",), debug: bool = False) -> None:
    """``tools.ignore_headers`` (``before_request_body``): drop these request
    headers."""
    request_headers = context.request_or_raise().headers
    for name in headers:
        request_headers.pop(name, None)


def response_headers(headers: Any = None, debug: bool = False) -> None:
    """``tools.response_headers`` (``on_start_resource``, failsafe): set these
    ``(name, value)`` response headers."""
    response = context.response_or_raise()
    for name, value in headers or []:
        response.headers[name] = value


response_headers.failsafe = True  # type: ignore[attr-defined]


def referer(
    pattern: str,
    accept: bool = True,
    accept_missing: bool = False,
    error: int = 403,
    message: str = "Forbidden Referer header.",
    debug: bool = False,
) -> None:
    """``tools.referer`` (``before_request_body``): refuse with ``error`` a request
    whose Referer does not match ``pattern`` (matches it, when ``accept`` is False);
    one without a Referer passes only with ``accept_missing``."""
    ref = context.request_or_raise().headers.get("Referer")
    if ref is None:
        if accept_missing:
            return
    elif accept == bool(re.match(pattern, ref)):
        return
    raise HTTPError(error, message)


def log_hooks(debug: bool = False) -> None:
    """``tools.log_hooks`` (``on_end_request``, priority 100): write the request's
    hooks, by point and priority, to the error log."""
    request = context.request_or_raise()
    points = list(hookpoints) + [p for p in request.hooks if p not in hookpoints]
    lines = []
    for point in points:
        lines.append(f"    {point}:")
        for hook in sorted(request.hooks.get(point, [])):
            lines.append(f"        {hook!r}")
    log = context.site.log
    if log is not None:
        log.error(f"\nRequest Hooks for {url()}:\n" + "\n".join(lines), "HTTP")


def redirect(url: str = "", internal: bool = True, debug: bool = False) -> None:
    """``tools.redirect`` (``on_start_resource``) and ``tools.err_redirect`` (the
    error response): an internal redirect to ``url``, or an HTTP one (303/302) when
    ``internal`` is False."""
    if internal:
        raise InternalRedirect(url)
    raise HTTPRedirect(url)


def flatten(debug: bool = False) -> None:
    """``tools.flatten`` (``before_finalize``): a body of nested iterators (generators
    yielding generators) becomes one flat iterator of chunks."""

    def flattener(chunks: Any) -> Iterator[Any]:
        for chunk in chunks:
            if is_iterator(chunk):
                yield from flattener(chunk)
            else:
                yield chunk

    response = context.response_or_raise()
    body = response.body
    response.body = flattener([body] if isinstance(body, (bytes, str)) else body or [])


def accept(media: Any = None, debug: bool = False) -> str | None:
    """``tools.accept`` (``on_start_resource``): the first of ``media`` (a type or a
    list) the client's Accept header takes, in the client's order of preference; 406
    naming both sides when it takes none. No ``media``: no check."""
    if not media:
        return None
    if isinstance(media, (str, bytes)):
        media = [media]
    request = context.request_or_raise()
    ranges = request.headers.elements("Accept")
    if not ranges:
        return media[0]  # type: ignore[no-any-return]
    for element in ranges:
        if element.qvalue <= 0:  # type: ignore[attr-defined]
            continue
        if element.value == "*/*":
            return media[0]  # type: ignore[no-any-return]
        if element.value.endswith("/*"):
            prefix = element.value[:-1]
            for m in media:
                if m.startswith(prefix):
                    return m  # type: ignore[no-any-return]
        elif element.value in media:
            return element.value
    header = request.headers.get("Accept")
    msg = (
        "Your client did not send an Accept header."
        if header is None
        else f"Your client sent this Accept header: {header}."
    )
    msg += f" But this resource only emits these media types: {', '.join(media)}."
    raise HTTPError(406, msg)


class MonitoredHeaderMap(HeaderMap):
    """A request header map that records which headers were looked up."""

    __slots__ = ("accessed_headers",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.accessed_headers: set[str] = set()
        super().__init__(*args, **kwargs)

    def _seen(self, key: Any) -> Any:
        key = key.title() if isinstance(key, str) else key
        self.accessed_headers.add(key)
        return key

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, self._seen(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._seen(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, self._seen(key), default)


def autovary(ignore: Any = None, debug: bool = False) -> None:
    """``tools.autovary`` (``on_start_resource``, priority 0): the response's ``Vary``
    names every request header the request's handling looked up (but those in
    ``ignore``: by default Content-Disposition, Content-Length, Content-Type)."""
    request = context.request_or_raise()
    monitored = MonitoredHeaderMap()
    dict.update(monitored, request.headers)
    request.headers = monitored
    skip = {"Content-Disposition", "Content-Length", "Content-Type"} if ignore is None else ignore

    def set_response_header() -> None:
        headers = context.response_or_raise().headers
        vary = {e.value for e in headers.elements("Vary")}
        vary |= monitored.accessed_headers
        headers["Vary"] = ", ".join(sorted(vary - set(skip)))

    request.hooks.attach("before_finalize", set_response_header, priority=95)


def convert_params(exception: Any = ValueError, error: int = 400) -> None:
    """``tools.params`` (``before_handler``, priority 15): each request parameter
    the page handler annotates is converted by its annotation (``def page(self,
    n: int)``); a conversion that raises ``exception`` is a ``error`` (400)."""
    request = context.request_or_raise()
    handler = request.handler
    types = _annotations(getattr(handler, "callable", handler))
    params = request.params
    with HTTPError.handle(exception, error):
        for key in set(types).intersection(params):
            params[key] = types[key](params[key])


def _annotations(func: Any) -> dict[str, Any]:
    """The parameter annotations of ``func``, evaluated when they are strings (a
    module with ``from __future__ import annotations``)."""
    raw = getattr(func, "__annotations__", None)
    if not raw:
        return {}
    if not any(isinstance(v, str) for v in raw.values()):
        return dict(raw)
    try:
        return typing.get_type_hints(func)
    except Exception:
        return {k: v for k, v in raw.items() if not isinstance(v, str)}


# session_auth lives in lib/sessionauth.py (with tools.sessions); CherryPy exports it here.
from .proxy import proxy  # noqa: E402, F401  (CherryPy's tools.proxy callable lives here)
from .sessionauth import SessionAuth, session_auth  # noqa: E402, F401
