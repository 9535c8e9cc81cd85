"""Dispatchers (``cherrypy._cpdispatch``): from a path to a page handler and its config.

``Dispatcher`` walks the application's object tree along the path: each segment names
an attribute ("." and other punctuation become "_"), ``index`` answers a path that ends
at an object, ``default`` catches the rest, and remaining segments become positional
arguments. It also merges the config that applies to the path. ``MethodDispatcher``
then picks the resource's ``GET``/``POST``... method, ``VirtualHost`` prefixes the path
by the Host header, ``XMLRPCDispatcher`` maps ``/RPC2`` calls, ``RoutesDispatcher``
matches ``routes`` patterns. ``request.dispatch`` in an application's config chooses the
dispatcher per application or per path.

Each dispatcher says what its result depends on (``cache_key``): the path alone for
``Dispatcher``, the method too for ``MethodDispatcher``, the host for ``VirtualHost``;
``find`` caches resolutions under that key (the cache is dropped whenever a mount or the
config changes). Paths whose walk calls a ``_cp_dispatch`` method, ``RoutesDispatcher``
and dispatchers written for CherryPy (a plain callable taking ``path_info``) are never
cached. This module never imports the Rust core.
"""

from __future__ import annotations

import string
from typing import Any, Callable

from . import context
from .errors import CherryPyException, HTTPError, HTTPRedirect, NotFound
from .lib.httputil import urljoin
from .lib.xmlrpcutil import patched_path

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
        "watch",
    )

    def __init__(
        self,
        handler: Callable[..., Any] | None,
        vpath: list[str],
        is_index: bool | None,
        config: dict[str, Any],
        cacheable: bool,
        watch: tuple[tuple[Any, dict[str, Any], dict[str, Any]], ...] = (),
    ) -> None:
        self.handler = handler
        self.vpath = vpath
        self.is_index = is_index
        self.config = config
        self.cacheable = cacheable
        #: The ``_cp_config`` dicts this resolution merged: (owner, the dict, a copy).
        #: A handler or tool may change them while the server runs (CherryPy reads them
        #: on every request); a cached resolution is used only while they are unchanged.
        self.watch = watch
        #: What the config asks of each request (``pathconfig.PathConfig``), compiled
        #: on the first request of this path.
        self.compiled: Any = None

    def is_current(self) -> bool:
        """Whether every ``_cp_config`` merged into this resolution is still the same
        dict with the same items."""
        for owner, conf, copy in self.watch:
            if getattr(owner, "_cp_config", None) is not conf or conf != copy:
                return False
        return True


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

    def __call__(self, path_info: str) -> None:
        """CherryPy's dispatcher protocol: set ``request.handler`` (a
        ``LateParamPageHandler`` or ``NotFound``), ``request.config`` and
        ``request.is_index`` for ``path_info``."""
        request = context.request_or_raise()
        func, vpath = self.find_handler(path_info)
        if func:
            vpath = [x.replace("%2F", "/") for x in vpath]
            request.handler = LateParamPageHandler(func, *vpath)
        else:
            request.handler = NotFound()

    def find_handler(self, path: str) -> tuple[Any, list[str]]:
        """``(handler, virtual path)`` for ``path``; sets ``request.config`` and
        ``request.is_index``."""
        request = context.request_or_raise()
        resolution = self.resolve(request.app, path, context.site.config)
        request.config = dict(resolution.config)
        request.is_index = resolution.is_index
        return resolution.handler, resolution.vpath

    def cache_key(self, path: str, request: Any) -> Any:
        """What the resolution of ``path`` depends on besides the tree and the config:
        here the path alone (None would mean "never cache")."""
        return path

    def resolve_for(
        self, app: Any, path: str, base_config: dict[str, Any], request: Any
    ) -> Resolution:
        """The resolution of ``path`` for ``request`` (see ``find``)."""
        return self.resolve(app, path, base_config)

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
        watch: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []
        if hasattr(root, "_cp_config"):
            _watch(watch, root)
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
                _watch(watch, node)
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
                if hasattr(default, "_cp_config"):
                    _watch(watch, default)
                trail.insert(i + 1, ["default", default, conf, segleft])
                return Resolution(
                    default,
                    fullpath[fullpath_len - segleft : -1],
                    path.endswith("/"),
                    merged(),
                    cacheable,
                    tuple(watch),
                )
            if getattr(candidate, "exposed", False):
                return Resolution(
                    candidate,
                    fullpath[fullpath_len - segleft : -1],
                    i == last,
                    merged(),
                    cacheable,
                    tuple(watch),
                )
        return Resolution(None, [], None, merged(), cacheable, tuple(watch))


def check_callable_spec(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], request: Any
) -> None:
    """Raise 404 or 400 when ``args``/``kwargs`` do not fit ``func``'s signature.

    URI parts (path atoms, query string) that do not fit give 404; body parameters that
    do not fit give 400, as in CherryPy's ``test_callable_spec``.
    """
    # Lazy: inspect costs ~2.6 MiB per process; only explaining a parameter mismatch needs it.
    import inspect

    show = getattr(request, "show_mismatched_params", False)
    inner = getattr(func, "callable", None)
    if isinstance(func, (MethodHandler, PageHandler)) and inner is not None:
        func = inner
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


#: CherryPy's name for ``check_callable_spec``.
test_callable_spec = check_callable_spec


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
    return call_handler_with(func, args, request.params if kwargs is None else kwargs, request)


def handler_type_error(
    func: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    request: Any,
    original: TypeError,
) -> None:
    """For a TypeError from calling ``func(*args, **kwargs)``: raise the 404 or 400 an
    argument mismatch gives (``call_handler_with``); return when the error came from
    inside the handler (the caller re-raises it)."""
    try:
        check_callable_spec(func, tuple(args), kwargs, request)
    except HTTPError:
        raise
    except Exception:
        raise original from None


class _Chosen:
    """In an application's dispatch cache under a path: the dispatcher that path uses,
    when its resolutions depend on more than the path (they are cached under
    ``(path, key)``) or cannot be cached at all."""

    __slots__ = ("dispatcher",)

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher


def dispatcher_for(app: Any, path: str, default: Any) -> Any:
    """The dispatcher for ``path``: ``request.dispatch`` from the application's config
    sections (the closest one upward), else ``default``."""
    find_config = getattr(app, "find_config", None)
    chosen = find_config(path, "request.dispatch", None) if find_config else None
    return default if chosen is None else chosen


def _key(dispatcher: Any, path: str, request: Any) -> Any:
    cache_key = getattr(dispatcher, "cache_key", None)
    return cache_key(path, request) if cache_key is not None else None


def resolve_with(
    dispatcher: Any, app: Any, path: str, base_config: dict[str, Any], request: Any
) -> Resolution:
    """Resolve ``path`` with any dispatcher: ours (``resolve_for``) or one written for
    CherryPy (called with ``path_info``; it sets ``request.handler`` and
    ``request.config``)."""
    resolve_for = getattr(dispatcher, "resolve_for", None)
    if resolve_for is not None:
        return resolve_for(app, path, base_config, request)
    if request is None:
        raise RuntimeError(f"the dispatcher {dispatcher!r} can only run during a request")
    request.config = dict(base_config)
    request.handler = None
    dispatcher(path)
    return _from_request(request)


def _from_request(request: Any) -> Resolution:
    """The Resolution a CherryPy-style dispatcher left on ``request``."""
    handler = request.handler
    vpath: list[str] = []
    if isinstance(handler, PageHandler):
        vpath = list(handler.args)
        extra = handler._kwargs
        if extra:
            request.params.update(extra)
        handler = handler.callable
    elif isinstance(handler, NotFound):
        handler = None
    elif isinstance(handler, BaseException):
        handler = _Raiser(handler)
    return Resolution(handler, vpath, request.is_index, request.config, False)


def _watch(watch: list[tuple[Any, dict[str, Any], dict[str, Any]]], owner: Any) -> None:
    conf = getattr(owner, "_cp_config", None)
    if isinstance(conf, dict):
        watch.append((owner, conf, dict(conf)))


def find(dispatcher: Any, app: Any, path: str, base_config: dict[str, Any]) -> Resolution:
    """The resolution of ``path`` through the application's cache.

    ``dispatcher`` is the application's default; ``request.dispatch`` in its config
    overrides it per path. Resolutions are cached under the dispatcher's
    ``cache_key``: the path itself for the default dispatcher (one dict lookup per
    request), ``(path, key)`` for dispatchers that look at the request.
    """
    cache = app.dispatch_cache
    hit = cache.get(path)
    if hit is not None and hit.__class__ is Resolution:
        if not hit.watch or hit.is_current():
            return hit
        # A _cp_config it merged changed: resolve again.
        del cache[path]
        hit = None
    request = context.request_or_none()
    chosen = hit.dispatcher if hit is not None else dispatcher_for(app, path, dispatcher)
    key = _key(chosen, path, request)
    if key is not None and key != path:
        keyed = cache.get((path, key))
        if keyed is not None and (not keyed.watch or keyed.is_current()):
            return keyed
    resolution = resolve_with(chosen, app, path, base_config, request)
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    if key == path and resolution.cacheable:
        cache[path] = resolution
        return resolution
    # Remember the choice of dispatcher (that depends on the path alone).
    cache[path] = _Chosen(chosen)
    if key is not None and resolution.cacheable:
        cache[(path, key)] = resolution
    return resolution


# -- CherryPy's page handler objects ---------------------------------------------------


class PageHandler:
    """A page handler bound to its positional arguments (``request.handler``)."""

    def __init__(self, callable: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.callable = callable
        self.args = args
        self._kwargs = kwargs

    @property
    def kwargs(self) -> dict[str, Any]:
        return self._kwargs

    @kwargs.setter
    def kwargs(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = kwargs

    def __call__(self) -> Any:
        request = context.request_or_raise()
        return call_handler_with(self.callable, list(self.args), self.kwargs, request)


class LateParamPageHandler(PageHandler):
    """A PageHandler whose keyword arguments are ``request.params`` at call time."""

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs = dict(context.request_or_raise().params)
        kwargs.update(self._kwargs)
        return kwargs

    @kwargs.setter
    def kwargs(self, kwargs: dict[str, Any]) -> None:
        request = context.request_or_raise()
        request.params.clear()
        request.params.update(kwargs)
        self._kwargs = {}


def call_handler_with(
    func: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], request: Any
) -> Any:
    """Call ``func``; a TypeError from an argument mismatch becomes a 404/400."""
    try:
        return func(*args, **kwargs)
    except TypeError as original:
        handler_type_error(func, args, kwargs, request, original)
        raise


class _Raiser:
    """A handler that raises the error a dispatcher chose (a 405, a redirect...)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


class MethodHandler:
    """The handler ``MethodDispatcher`` picks: calls the resource's method (or answers
    405 when it has none). ``Allow`` is not set here: it is a header of the path's
    config (``MethodDispatcher.resolve_for``), set before ``on_start_resource`` as
    CherryPy sets it while dispatching, so a hook or tool that sets it after dispatch
    (``tools.allow``) wins, as in CherryPy."""

    __slots__ = ("allow", "callable")

    def __init__(self, func: Callable[..., Any] | None, allow: str) -> None:
        self.callable = func
        self.allow = allow

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.callable is None:
            raise HTTPError(405)
        return self.callable(*args, **kwargs)


# -- the other dispatchers -------------------------------------------------------------


def _allowed(resource: Any) -> str:
    methods = [m for m in dir(resource) if m.isupper()]
    if "GET" in methods and "HEAD" not in methods:
        methods.append("HEAD")
    methods.sort()
    return ", ".join(methods)


class MethodDispatcher(Dispatcher):
    """Dispatch on ``request.method`` too: an exposed resource's ``GET``, ``POST``...
    method answers (``HEAD`` falls back to ``GET``); ``Allow`` lists the methods it
    has; a method it lacks gets 405. The method's ``_cp_config`` joins the config."""

    def cache_key(self, path: str, request: Any) -> Any:
        return request.method.upper() if request is not None else None

    def resolve_for(
        self, app: Any, path: str, base_config: dict[str, Any], request: Any
    ) -> Resolution:
        found = self.resolve(app, path, base_config)
        resource = found.handler
        if resource is None:
            return found
        allow = _allowed(resource)
        method = request.method.upper()
        func = getattr(resource, method, None)
        if func is None and method == "HEAD":
            func = getattr(resource, "GET", None)
        config = dict(found.config)
        watch = list(found.watch)
        if func is not None and hasattr(func, "_cp_config"):
            _watch(watch, func)
            config.update(func._cp_config)
        # CherryPy sets Allow while dispatching, so that every answer for the resource
        # carries it (a 411 before the handler too): a header of the path's config.
        config["response.headers.Allow"] = allow
        return Resolution(
            MethodHandler(func, allow),
            found.vpath,
            found.is_index,
            config,
            found.cacheable,
            tuple(watch),
        )

    def __call__(self, path_info: str) -> None:
        request = context.request_or_raise()
        resource, vpath = self.find_handler(path_info)
        if not resource:
            request.handler = NotFound()
            return
        context.response_or_raise().headers["Allow"] = _allowed(resource)
        method = request.method.upper()
        func = getattr(resource, method, None)
        if func is None and method == "HEAD":
            func = getattr(resource, "GET", None)
        if func:
            if hasattr(func, "_cp_config"):
                request.config.update(func._cp_config)
            vpath = [x.replace("%2F", "/") for x in vpath]
            request.handler = LateParamPageHandler(func, *vpath)
        else:
            request.handler = HTTPError(405)


class VirtualHost:
    """Prefix the path by the site the Host header names, then dispatch with
    ``next_dispatcher``: ``VirtualHost(**{"www.example.org": "/example"})``.

    With ``use_x_forwarded_host`` (the default) an ``X-Forwarded-Host`` header wins
    over ``Host``. A host not listed gets no prefix.
    """

    def __init__(
        self,
        next_dispatcher: Any = None,
        use_x_forwarded_host: bool = True,
        **domains: str,
    ) -> None:
        self.next_dispatcher = Dispatcher() if next_dispatcher is None else next_dispatcher
        self.use_x_forwarded_host = use_x_forwarded_host
        self.domains = domains

    def prefix(self, request: Any) -> str:
        headers = request.headers
        domain = headers.get("Host", "")
        if self.use_x_forwarded_host:
            domain = headers.get("X-Forwarded-Host", domain)
        return self.domains.get(domain, "")

    def cache_key(self, path: str, request: Any) -> Any:
        if request is None:
            return None
        prefix = self.prefix(request)
        inner = _key(self.next_dispatcher, urljoin(prefix, path) if prefix else path, request)
        return None if inner is None else (prefix, inner)

    def resolve_for(
        self, app: Any, path: str, base_config: dict[str, Any], request: Any
    ) -> Resolution:
        prefix = self.prefix(request)
        if prefix:
            path = urljoin(prefix, path)
        found = resolve_with(self.next_dispatcher, app, path, base_config, request)
        section = found.config.get("tools.staticdir.section")
        if prefix and section:
            config = dict(found.config)
            config["tools.staticdir.section"] = section[len(prefix) :]
            found = Resolution(
                found.handler, found.vpath, found.is_index, config, found.cacheable, found.watch
            )
        return found

    def __call__(self, path_info: str) -> Any:
        request = context.request_or_raise()
        prefix = self.prefix(request)
        if prefix:
            path_info = urljoin(prefix, path_info)
        result = self.next_dispatcher(path_info)
        section = request.config.get("tools.staticdir.section")
        if section:
            request.config["tools.staticdir.section"] = section[len(prefix) :]
        return result


class XMLRPCDispatcher:
    """Dispatch XML-RPC calls (``/RPC2`` or any path) to an ``XMLRPCController``:
    the path gets a final "/" so the controller's ``default`` answers."""

    def __init__(self, next_dispatcher: Any = None) -> None:
        self.next_dispatcher = Dispatcher() if next_dispatcher is None else next_dispatcher

    def cache_key(self, path: str, request: Any) -> Any:
        inner = _key(self.next_dispatcher, patched_path(path), request)
        return None if inner is None else ("xmlrpc", inner)

    def resolve_for(
        self, app: Any, path: str, base_config: dict[str, Any], request: Any
    ) -> Resolution:
        return resolve_with(self.next_dispatcher, app, patched_path(path), base_config, request)

    def __call__(self, path_info: str) -> Any:
        return self.next_dispatcher(patched_path(path_info))


class RoutesDispatcher:
    """Dispatch with a ``routes.Mapper`` (the ``routes`` package, Rails-style patterns).

    ``connect(name, route, controller, **kwargs)`` adds a route; the matched
    ``action`` method of the controller answers, the route's variables become
    ``request.params`` (``controller`` and ``action`` too with ``full_result``).
    """

    def __init__(self, full_result: bool = False, **mapper_options: Any) -> None:
        try:
            # Optional: routes is only needed by applications that use this dispatcher.
            import routes
        except ImportError:
            raise ImportError(
                "cherrypy.dispatch.RoutesDispatcher needs the 'routes' package: pip install routes"
            ) from None
        self._routes = routes
        self.full_result = full_result
        self.controllers: dict[str, Any] = {}
        self.mapper = routes.Mapper(**mapper_options)
        self.mapper.controller_scan = self.controllers.keys

    def connect(self, name: str, route: str, controller: Any, **kwargs: Any) -> None:
        self.controllers[name] = controller
        self.mapper.connect(name, route, controller=name, **kwargs)

    def redirect(self, url: str) -> None:
        raise HTTPRedirect(url)

    def cache_key(self, path: str, request: Any) -> Any:
        return None

    def _environ(self, request: Any, path: str) -> dict[str, Any]:
        environ = dict(getattr(request, "wsgi_environ", None) or {})
        environ.setdefault("REQUEST_METHOD", request.method)
        environ.setdefault("PATH_INFO", path)
        environ.setdefault("SCRIPT_NAME", request.script_name)
        host = request.headers.get("Host")
        if host:
            environ.setdefault("HTTP_HOST", host)
        return environ

    def resolve_for(
        self, app: Any, path: str, base_config: dict[str, Any], request: Any
    ) -> Resolution:
        rconfig = self._routes.request_config()
        rconfig.mapper = self.mapper
        environ = self._environ(request, path)
        rconfig.environ = environ
        rconfig.host = request.headers.get("Host", None)
        rconfig.protocol = request.scheme
        rconfig.redirect = self.redirect
        result = self.mapper.match(path, environ)
        rconfig.mapper_dict = result
        params = dict(result) if result else {}
        if not self.full_result:
            params.pop("controller", None)
            params.pop("action", None)
        request.params.update(params)

        config = dict(base_config)
        curpath = ""

        def merge(nodeconf: dict[str, Any]) -> None:
            if "tools.staticdir.dir" in nodeconf:
                nodeconf = dict(nodeconf)
                nodeconf["tools.staticdir.section"] = curpath or "/"
            config.update(nodeconf)

        root = app.root
        if hasattr(root, "_cp_config"):
            merge(root._cp_config)
        if "/" in app.config:
            merge(app.config["/"])
        atoms = [x for x in path.split("/") if x]
        last = atoms.pop() if atoms else None
        for atom in atoms:
            curpath = "/".join((curpath, atom))
            if curpath in app.config:
                merge(app.config[curpath])
        handler = None
        if result:
            controller = result.get("controller")
            controller = self.controllers.get(controller, controller)
            if controller:
                if isinstance(controller, type):
                    controller = controller()
                if hasattr(controller, "_cp_config"):
                    merge(controller._cp_config)
            action = result.get("action")
            if action is not None:
                handler = getattr(controller, action, None)
                handler_conf = getattr(handler, "_cp_config", None)
                if handler_conf is not None:
                    merge(handler_conf)
            else:
                handler = controller
        if last:
            curpath = "/".join((curpath, last))
            if curpath in app.config:
                merge(app.config[curpath])
        return Resolution(handler, [], request.is_index, config, False)

    def find_handler(self, path_info: str) -> Any:
        request = context.request_or_raise()
        found = self.resolve_for(request.app, path_info, context.site.config, request)
        request.config = found.config
        return found.handler

    def __call__(self, path_info: str) -> None:
        request = context.request_or_raise()
        func = self.find_handler(path_info)
        request.handler = LateParamPageHandler(func) if func else NotFound()
