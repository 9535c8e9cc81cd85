"""The default object dispatcher (``cherrypy._cpdispatch.Dispatcher``).

It walks the application's object tree along the path: each segment names an attribute
("." and other punctuation become "_"), ``index`` answers a path that ends at an object,
``default`` catches the rest, and remaining segments become positional arguments. It
also merges the config that applies to the path.

Resolution is pure for a given tree and config, so it is cached per path (the cache is
dropped whenever a mount or the config changes). Paths whose walk calls a
``_cp_dispatch`` method are never cached, since that method may look at the request.
This module never imports the Rust core.
"""

from __future__ import annotations

import inspect
import string
from typing import Any, Callable

from .errors import CherryPyException, HTTPError

punctuation_to_underscores = str.maketrans(string.punctuation, "_" * len(string.punctuation))

#: Cached resolutions per application before the cache is reset (bounds memory when
#: paths carry ids: /user/1, /user/2, ...).
CACHE_LIMIT = 10_000


def validate_translator(t: Any) -> None:
    """Check that ``t`` is a ``str.maketrans`` table."""
    if not isinstance(t, dict):
        raise ValueError("The translate argument must be a dict.")


class Resolution:
    """The outcome of dispatching one path: what to call and with which config."""

    __slots__ = (
        "cacheable",
        "compiled",
        "config",
        "handler",
        "is_index",
        "vpath",
    )

    def __init__(
        self,
        handler: Callable[..., Any] | None,
        vpath: list[str],
        is_index: bool | None,
        config: dict[str, Any],
        cacheable: bool,
    ) -> None:
        self.handler = handler
        self.vpath = vpath
        self.is_index = is_index
        self.config = config
        self.cacheable = cacheable
        #: What the config asks of each request (``pathconfig.PathConfig``), compiled
        #: on the first request of this path.
        self.compiled: Any = None


class Dispatcher:
    """CherryPy's default dispatcher: walks the object tree rooted at ``app.root``."""

    dispatch_method_name = "_cp_dispatch"

    def __init__(
        self,
        dispatch_method_name: str | None = None,
        translate: dict[int, Any] = punctuation_to_underscores,
    ) -> None:
        validate_translator(translate)
        self.translate = translate
        if dispatch_method_name:
            self.dispatch_method_name = dispatch_method_name

    def resolve(self, app: Any, path: str, base_config: dict[str, Any]) -> Resolution:
        """The handler, virtual path, is_index and merged config for ``path``.

        ``app`` has ``root`` and ``config`` (sections by path); ``base_config`` is the
        global config the sections are merged onto.
        """
        root = app.root
        fullpath = [x for x in path.strip("/").split("/") if x] + ["index"]
        fullpath_len = len(fullpath)
        cacheable = True

        nodeconf: dict[str, Any] = {}
        if hasattr(root, "_cp_config"):
            nodeconf.update(root._cp_config)
        if "/" in app.config:
            nodeconf.update(app.config["/"])
        trail: list[list[Any]] = [["root", root, nodeconf, fullpath_len]]

        node = root
        names = fullpath[:]
        while names:
            name = names[0]
            objname = name.translate(self.translate)
            nodeconf = {}
            subnode = getattr(node, objname, None)
            pre_len = len(names)
            if subnode is None:
                dispatch = getattr(node, self.dispatch_method_name, None)
                if (
                    dispatch
                    and callable(dispatch)
                    and not getattr(dispatch, "exposed", False)
                    and pre_len > 1
                ):
                    cacheable = False
                    index_name = names.pop()
                    subnode = dispatch(vpath=names)
                    names.append(index_name)
                else:
                    names.pop(0)
            else:
                names.pop(0)
            segleft = len(names)
            if segleft > pre_len:
                raise CherryPyException(
                    "A vpath segment was added.  Custom dispatchers may only remove "
                    f"elements.  While trying to process {name} in {fullpath}"
                )
            if segleft == pre_len:
                # A _cp_dispatch that removed nothing: move on to the next segment.
                names.pop(0)
                segleft -= 1
            node = subnode
            if node is not None and hasattr(node, "_cp_config"):
                nodeconf.update(node._cp_config)

            consumed = fullpath_len - pre_len
            curpath = "/" + "/".join(fullpath[:consumed]) if consumed else ""
            for seg in fullpath[consumed : fullpath_len - segleft]:
                curpath += "/" + seg
                if curpath in app.config:
                    nodeconf.update(app.config[curpath])
            trail.append([name, node, nodeconf, segleft])

        def merged() -> dict[str, Any]:
            config = dict(base_config)
            for _name, _obj, conf, segleft in trail:
                config.update(conf)
                if "tools.staticdir.dir" in conf:
                    config["tools.staticdir.section"] = "/" + "/".join(
                        fullpath[: fullpath_len - segleft]
                    )
            return config

        last = len(trail) - 1
        for i in range(last, -1, -1):
            _name, candidate, _conf, segleft = trail[i]
            if candidate is None:
                continue
            default = getattr(candidate, "default", None)
            if default is not None and getattr(default, "exposed", False):
                conf = getattr(default, "_cp_config", {})
                trail.insert(i + 1, ["default", default, conf, segleft])
                return Resolution(
                    default,
                    fullpath[fullpath_len - segleft : -1],
                    path.endswith("/"),
                    merged(),
                    cacheable,
                )
            if getattr(candidate, "exposed", False):
                return Resolution(
                    candidate,
                    fullpath[fullpath_len - segleft : -1],
                    i == last,
                    merged(),
                    cacheable,
                )
        return Resolution(None, [], None, merged(), cacheable)


def check_callable_spec(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], request: Any
) -> None:
    """Raise 404 or 400 when ``args``/``kwargs`` do not fit ``func``'s signature.

    URI parts (path atoms, query string) that do not fit give 404; body parameters that
    do not fit give 400, as in CherryPy's ``test_callable_spec``.
    """
    show = getattr(request, "show_mismatched_params", False)
    try:
        spec = inspect.getfullargspec(func)
    except TypeError:
        if callable(func):
            spec = inspect.getfullargspec(func.__call__)  # type: ignore[operator]
        else:
            raise
    params, varargs, varkw, defaults = spec.args, spec.varargs, spec.varkw, spec.defaults
    if params and (callable(func) or inspect.ismethod(func)):
        params = params[1:]

    usage = dict.fromkeys(params, 0)
    extra_positional = max(0, len(args) - len(params))
    for i in range(min(len(args), len(params))):
        usage[params[i]] += 1
    extra_kwargs = set()
    for key in kwargs:
        if key in usage:
            usage[key] += 1
        else:
            extra_kwargs.add(key)
    with_defaults = params[-len(defaults) :] if defaults else []
    for name in with_defaults:
        if usage[name] == 0:
            usage[name] = 1

    missing = [k for k, n in usage.items() if n == 0]
    multiple = [k for k, n in usage.items() if n > 1]
    if missing:
        raise HTTPError(404, f"Missing parameters: {','.join(missing)}" if show else None)
    if not varargs and extra_positional:
        raise HTTPError(404)

    body_params = set((getattr(request.body, "params", None) or {}).keys())
    qs_params = set(kwargs) - body_params
    if multiple:
        status = 404 if qs_params.intersection(multiple) else 400
        raise HTTPError(
            status, f"Multiple values for parameters: {','.join(multiple)}" if show else None
        )
    if not varkw and extra_kwargs:
        extra_qs = qs_params & extra_kwargs
        if extra_qs:
            raise HTTPError(
                404,
                f"Unexpected query string parameters: {', '.join(extra_qs)}" if show else None,
            )
        extra_body = body_params & extra_kwargs
        if extra_body:
            raise HTTPError(
                400, f"Unexpected body parameters: {', '.join(extra_body)}" if show else None
            )


def call_handler(
    func: Callable[..., Any],
    args: list[str],
    request: Any,
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """Call a page handler with the path's positional args and ``request.params``
    (or ``kwargs``).

    A TypeError caused by a mismatch between the URL/body and the signature becomes the
    404 or 400 CherryPy gives; a TypeError from inside the handler is re-raised.
    """
    if kwargs is None:
        kwargs = request.params
    try:
        return func(*args, **kwargs)
    except TypeError as original:
        try:
            check_callable_spec(func, tuple(args), kwargs, request)
        except HTTPError:
            raise
        except Exception:
            raise original from None
        raise


def find(dispatcher: Dispatcher, app: Any, path: str, base_config: dict[str, Any]) -> Resolution:
    """``dispatcher.resolve`` through the application's per-path cache."""
    cache = app.dispatch_cache
    hit = cache.get(path)
    if hit is not None:
        return hit
    resolution = dispatcher.resolve(app, path, base_config)
    if resolution.cacheable:
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[path] = resolution
    return resolution
