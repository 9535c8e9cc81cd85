"""The request path in Python: ``RequestHandler`` is what a Rust worker thread calls
for each request to a mounted application.

It follows CherryPy's ``Request.respond``: dispatch, the config's per-request work
(compiled once per path, see ``pathconfig``), the hook points ``on_start_resource``,
``before_request_body``, ``before_handler``, the handler, ``before_finalize``,
``on_end_resource`` (``before_error_response``/``after_error_response`` around the
error page) and ``on_end_request`` once the response is produced — or, when streamed,
sent. It returns plain ``(status, reason, headers, body)`` for Rust to send.

A path whose config turns on no tool but the default ones, and that has no hook, runs
the default tools inline and never builds a hook map.
"""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any, Callable

from . import context, dispatch
from .context import _current, request_or_raise
from .dispatch import Resolution
from .errors import (
    HTTPError,
    HTTPRedirect,
    InternalRedirect,
    NotFound,
    bare_error,
    format_exc,
)
from .hooks import QUIET_ERRORS, Hook, HookMap, log_hook_error
from .lib import cptools, jsontools, static
from .lib.encoding import encode_output
from .objects import CLASS_HOOKS, SERVER_HEADER, Request, Response
from .pathconfig import PathConfig, compile_path, toolboxes_of

Reply = tuple[int, "str | None", "list[tuple[str, str]]", Any]


class PageHandler:
    """``request.handler``: the page handler with the path's positional arguments;
    calling it passes ``request.params`` as they are then (tools may change them).

    It holds no reference to the request (a cycle would keep the request, and the Rust
    object behind it with its spooled body file, alive until the garbage collector
    runs)."""

    __slots__ = ("args", "callable")

    def __init__(self, func: Callable[..., Any], args: list[str]) -> None:
        self.callable = func
        self.args = args

    @property
    def kwargs(self) -> dict[str, Any]:
        return request_or_raise().params

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = request_or_raise()
        if args or kwargs:
            params = dict(request.params)
            params.update(kwargs)
            return dispatch.call_handler(self.callable, [*self.args, *args], request, params)
        return dispatch.call_handler(self.callable, self.args, request)


def _uri(path: str, query_string: str) -> str:
    return f"{path}?{query_string}" if query_string else path


class _StreamedBody:
    """A streamed response body: each chunk is produced with the request context set
    (handlers' generators read ``cherrypy.request``), and closing it ends the request
    (``on_end_request``, the spooled request body released)."""

    __slots__ = ("chunks", "finished", "pair", "request")

    def __init__(self, chunks: Any, request: Request, response: Response) -> None:
        self.chunks = iter(chunks)
        self.pair = (request, response)
        self.request = request
        #: Called once the body is closed (``after_request``, see ``serve_published``).
        self.finished: Callable[[], None] | None = None

    def __iter__(self) -> _StreamedBody:
        return self

    def __next__(self) -> Any:
        token = _current.set(self.pair)
        try:
            return next(self.chunks)
        finally:
            _current.reset(token)

    def close(self) -> None:
        token = _current.set(self.pair)
        try:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()
        finally:
            try:
                self.request.close()
            finally:
                try:
                    if self.finished is not None:
                        self.finished()
                finally:
                    _current.reset(token)


def publish_after_request(engine: Any, log_error: Callable[..., None]) -> None:
    """``after_request`` on the engine; a listener's error is logged, not raised (the
    response is on its way)."""
    try:
        engine.publish("after_request")
    except Exception:
        log_error(traceback=True, severity=logging.ERROR)


def _text_header_list(response: Response) -> None:
    """Pairs a hook added to ``response.header_list`` as bytes (CherryPy's own form of
    that list) become text, as Rust sends them; anything else is an error (500), as
    CherryPy's WSGI layer makes it."""
    header_list = response.header_list
    if not header_list:
        return
    for k, v in header_list:
        if k.__class__ is not str or v.__class__ is not str:
            break
    else:
        return
    pairs = []
    for k, v in header_list:
        if not isinstance(k, (bytes, str)):
            raise TypeError(f"response.header_list key {k!r} is not a byte string.")
        if not isinstance(v, (bytes, str)):
            raise TypeError(f"response.header_list value {v!r} is not a byte string.")
        pairs.append(
            (
                k.decode("latin-1") if isinstance(k, bytes) else k,
                v.decode("latin-1") if isinstance(v, bytes) else v,
            )
        )
    response.header_list = pairs


class RequestHandler:
    """Called by a Rust worker thread for every request to a mounted application."""

    def __init__(
        self, apps: list[Any], global_config: dict[str, Any], log_error: Callable[..., None]
    ) -> None:
        #: Applications by their index in the Rust router.
        self.apps = apps
        self.global_config = global_config
        self.log_error = log_error
        engine = context.site.engine
        listeners: dict[str, set[Any]] = engine.listeners if engine is not None else {}
        #: The listeners of the engine's ``before_request`` and ``after_request``
        #: channels (the sets ``engine.subscribe`` adds to): looked at per request,
        #: published only while someone listens (``serve_published``).
        self.request_listeners = (
            listeners.setdefault("before_request", set()),
            listeners.setdefault("after_request", set()),
        )
        self.engine = engine

    def __call__(self, core: Any) -> Reply:
        before, after = self.request_listeners
        if before or after:
            return self.serve_published(core)
        app = self.apps[core.app]
        path = core.path_info
        resolution = app.dispatch_cache.get(path)
        if resolution.__class__ is Resolution and not resolution.watch:
            pc = resolution.compiled
            if pc is not None and pc.quick is not None and self.quick_enabled:
                reply = self.quick(core, app, resolution, pc, path)
                if reply is not None:
                    return reply
        request = Request(core, app)
        response = Response()
        token = _current.set((request, response))
        try:
            return self.serve(core, app, request, response, None)
        except _Quick as first:
            # The first request of a quick path, dispatched: served as the next ones
            # will be (the same answer, tracebacks included).
            go = first.args
        finally:
            _current.reset(token)
        reply = self.quick(core, app, *go)
        if reply is not None:
            return reply
        return self(core)

    #: Whether requests may take the quick path (``quick``).
    quick_enabled = True

    def serve_published(self, core: Any) -> Reply:
        """A request while the engine's ``before_request`` or ``after_request`` channel
        has listeners: published around it as CherryPy's ``Application.get_serving`` and
        ``release_serving`` do, with ``cherrypy.request`` and ``response`` set; never the
        quick path (the objects exist from the start). ``after_request`` comes once the
        request is closed (its ``on_end_request`` hooks run), for a streamed body when the
        body is closed. A ``before_request`` listener's error fails the request (500), as
        in CherryPy; an ``after_request`` listener's error is logged."""
        app = self.apps[core.app]
        request = Request(core, app)
        response = Response()
        token = _current.set((request, response))
        try:
            try:
                self.engine.publish("before_request")
            except Exception:
                return self.bare_error(request)
            unquick = self.__dict__.get("_unquick")
            if unquick is None:
                # The same handler with the quick path off (an instance attribute).
                unquick = copy.copy(self)
                unquick.quick_enabled = False
                self._unquick = unquick
            reply = unquick.serve(core, app, request, response, None)
            body = reply[3]
            if body.__class__ is _StreamedBody:
                body.finished = functools.partial(  # type: ignore[union-attr]
                    publish_after_request, self.engine, self.log_error
                )
            else:
                publish_after_request(self.engine, self.log_error)
            return reply
        finally:
            _current.reset(token)

    def quick(
        self,
        core: Any,
        app: Any,
        resolution: dispatch.Resolution,
        pc: PathConfig,
        path: str,
    ) -> Reply | None:
        """A request of a quick path (see ``_quick_state``) without a query string or
        a body: the page handler is called at once, and the request and response
        objects are built only if something asks for them (``cherrypy.request``...,
        see ``_PendingPair``). A handler that returns text (or bytes) without having
        used them, to a client that names no charset, gets the reply every such
        request gets (200, ``text/html;charset=utf-8``); anything else continues as
        ``respond_plain`` would from where it is. None: not for this request (the
        caller serves it as usual)."""
        if (
            core.query_string
            or core.method in Request.methods_with_bodies
            or CLASS_HOOKS.attached
            or Response.stream
            or pc.quick_path != path
        ):
            return None
        pending = _PendingPair(core, app, resolution, pc.quick)  # type: ignore[arg-type]
        token = _current.set(pending)  # type: ignore[arg-type]
        try:
            handler = resolution.handler
            vpath = resolution.vpath
            if vpath:
                vpath = [atom.replace("%2F", "/") for atom in vpath]
            raised = None
            try:
                output = handler(*vpath)  # type: ignore[misc]
            except BaseException as exc:
                # Handled as respond_plain would (outside this except block).
                raised = _Raised(exc, handler, vpath)
            if raised is not None:
                request, response = pending.get()
                return self.serve(core, app, request, response, raised)
            if pending.pair is None:
                cls = output.__class__
                if (cls is str or cls is bytes) and core.header("Accept-Charset") is None:
                    try:
                        body = output.encode("utf-8") if cls is str else output
                    except UnicodeError:
                        pass  # The 500 of encode_output, as usual.
                    else:
                        return 200, None, list(_QUICK_HEADERS), body
            request, response = pending.get()
            return self.serve(core, app, request, response, _Returned(self, output))
        finally:
            _current.reset(token)

    def serve(
        self,
        core: Any,
        app: Any,
        request: Request,
        response: Response,
        step: Callable[[Request, Response], None] | None,
    ) -> Reply:
        """The request from dispatch (or, with ``step``, from where the quick path
        handed it over) to the reply, internal redirects included."""
        streamed = False
        try:
            # URIs (path?query) already served for this client request: a repeat is a
            # loop (CherryPy's InternalRedirector raises RuntimeError → 500).
            redirections: list[str] | None = None
            while True:
                try:
                    self.respond(request, response, step)
                    break
                except InternalRedirect as ir:
                    step = None
                    if redirections is None:
                        redirections = []
                    redirections.append(_uri(request.path_info, request.query_string))
                    target = _uri(ir.path, ir.query_string)
                    if target in redirections and not _recursive_redirects(request, app):
                        # CherryPy raises out of the application here: the server sends
                        # its bare text/plain 500.
                        try:
                            raise RuntimeError(
                                f"InternalRedirector visited the same URL twice: {target!r}"
                            ) from None
                        except RuntimeError:
                            return self.bare_error(request)
                    previous = request
                    # Done with: CherryPy closes it (on_end_request) before the next.
                    previous.close()
                    request = Request(core, app, "GET", ir.path, ir.query_string, b"")
                    request.prev = previous
                    response = Response()
                    _current.set((request, response))
            body = response.body
            if response.stream and not isinstance(body, (bytes, list, static.StaticFile)):
                body = _StreamedBody(body, request, response)
                streamed = True
            return response.status_code, response.reason, response.header_list, body  # type: ignore[return-value]
        except Exception:
            return self.bare_error(request)
        finally:
            try:
                if not streamed:
                    d = request.__dict__
                    if "hooks" in d or "body" in d or "_planned" in d or request.prev is not None:
                        request.close()
                    else:
                        # Nothing to run or release: what close() would do, cheaply.
                        request.closed = True
            except Exception:
                self.log_error(traceback=True, severity=logging.ERROR)

    def bare_error(self, request: Request) -> Reply:
        """CherryPy's last-resort 500 (text/plain), for errors outside the handler's
        error handling; the traceback is logged, and shown if show_tracebacks is on."""
        tb = format_exc()
        self.log_error(tb, severity=logging.ERROR)
        _status, headers, body = bare_error(tb if request.show_tracebacks else "")
        return (500, None, [(k.decode(), v.decode()) for k, v in headers], body[0])

    def respond(
        self,
        request: Request,
        response: Response,
        step: Callable[[Request, Response], None] | None = None,
    ) -> None:
        """CherryPy's ``Request.respond``: run the request (``do_respond``, or ``step``
        for a request the quick path handed over), turning HTTP errors into their
        pages and other errors into the error response."""
        try:
            try:
                try:
                    if step is None:
                        self.do_respond(request, response)
                    else:
                        step(request, response)
                except (HTTPRedirect, HTTPError) as inst:
                    try:
                        inst.set_response()
                        request.stage = "before_finalize (HTTPError)"
                        hooks = request.__dict__.get("hooks")
                        if hooks is not None:
                            _chunked_body(response)
                            hooks.run("before_finalize")
                        elif "_planned" in request.__dict__:
                            _chunked_body(response)
                            _run_planned(request, "before_finalize")
                        response.finalize()
                    finally:
                        # An instance kept in config (request.body.default_proc) is
                        # raised again later: drop this request's frames from it.
                        inst.__traceback__ = None
            finally:
                request.stage = "on_end_resource"
                hooks = request.__dict__.get("hooks")
                if hooks is not None:
                    hooks.run("on_end_resource")
                    _text_header_list(response)
                elif "_planned" in request.__dict__:
                    _run_planned(request, "on_end_resource")
                    _text_header_list(response)
        except request.throws:
            raise
        except Exception:
            if request.throw_errors:
                raise
            self.handle_error(request, response)

    def handle_error(self, request: Request, response: Response) -> None:
        """The error response: ``before_error_response`` (the traceback and headers are
        logged there by default), ``request.error_response``, ``after_error_response``."""
        try:
            hooks = request.__dict__.get("hooks")
            pc: PathConfig | None = request.__dict__.get("path_config")
            if hooks is None:
                # No hook machinery on this path: the default error tools run inline.
                if pc is None or pc.log_tracebacks is not None:
                    cptools.log_traceback(**((pc.log_tracebacks or {}) if pc else {}))
                if pc is not None and pc.log_headers is not None:
                    cptools.log_request_headers()
            else:
                hooks.run("before_error_response")
            response.headers.pop("Content-Length", None)
            if request.error_response:
                request.error_response()
            if hooks is not None:
                _chunked_body(response)
                hooks.run("after_error_response")
            response.finalize()
        except HTTPRedirect as inst:
            inst.set_response()
            response.finalize()

    def do_respond(self, request: Request, response: Response) -> None:
        """CherryPy's ``Request._do_respond``: everything from dispatch to finalize."""
        app = request.app
        request.stage = "get_resource"
        path = request.path_info
        resolution = app.dispatch_cache.get(path)
        if resolution.__class__ is not Resolution or resolution.watch:
            # Not a cached resolution that holds whatever happens (dispatch.find).
            resolution = dispatch.find(app.dispatcher, app, path, self.global_config)
        config = resolution.config
        pc: PathConfig | None = resolution.compiled
        if pc is None:
            pc = compile_path(config, toolboxes_of(app), Request.namespaces)
            pc.plain = _plain_state(pc, resolution)
            if pc.plain is not None:
                pc.quick = _quick_state(pc, resolution, pc.plain, path)
                pc.quick_path = path
            resolution.compiled = pc
            if (
                pc.quick is not None
                and self.quick_enabled
                and app.dispatch_cache.get(path) is resolution
                and request.prev is None
                and not request.query_string
                and request.method not in Request.methods_with_bodies
            ):
                # Nothing this request did so far is seen: serve it as the next ones.
                raise _Quick(resolution, pc, path)
        plain = pc.plain
        if plain is not None and not CLASS_HOOKS.attached:
            self.respond_plain(request, response, resolution, plain)
            return
        request.config = config
        request.is_index = resolution.is_index
        request.path_config = pc  # type: ignore[attr-defined]
        if pc.has_attributes:
            _apply_attributes(pc, request, response)
        handler = resolution.handler
        # As CherryPy: with no handler for the path, the "handler" raises 404 when
        # called (a handler tool such as staticdir may answer first).
        vpath = resolution.vpath
        if vpath:
            vpath = [atom.replace("%2F", "/") for atom in vpath]
        page_handler = request.handler = (
            PageHandler(handler, vpath) if handler is not None else NotFound()
        )

        fast_session = pc.fast_session
        if (pc.needs_hooks and fast_session is None) or CLASS_HOOKS.attached:
            self.run_with_hooks(request, response, pc)
            return

        # The fast path: no tool but the default ones (and tools.sessions, whose hooks
        # run inline at their points), no hook.
        request.stage = "process_query_string"
        request.params  # noqa: B018 - parsed (and its errors raised) before the body
        if fast_session is not None:
            # The points after the handler, for this request (a hook map made from
            # here on takes them over: see objects._RequestHooks).
            request.__dict__["_planned"] = dict(fast_session.later)
            request.stage = "before_request_body"
            HookMap.run_sorted(fast_session.before_request_body)
        if request.method in request.methods_with_bodies:
            self.process_body(request)
        request.stage = "before_handler"
        if pc.json_out is not None:
            # tools.json_out (priority 30, before the static tools' 50): it wraps the
            # handler and sets the content type, as it does as a hook.
            jsontools.json_out(**pc.json_out)
        if fast_session is not None and fast_session.before_handler:
            # The session lock (locking = "implicit", priority 50).
            HookMap.run_sorted(fast_session.before_handler)
        if pc.static is not None and _serve_static(*pc.static):
            request.handler = None
        slash = pc.trailing_slash
        if slash is not None:
            # Only an index path without its slash (or, with extra=True, a non-index
            # path with one) can redirect: skip the call otherwise.
            is_index = request.is_index
            pi = request.path_info
            if (is_index is True and not pi.endswith("/")) or (
                is_index is False and pi.endswith("/")
            ):
                cptools.trailing_slash(**slash)
        if request.handler is not None:
            request.stage = "handler"
            if request.handler is page_handler and handler is not None:
                output = dispatch.call_handler(handler, vpath, request)
            else:
                output = request.handler()
            if pc.encode is not None:
                output = encode_output(output, response, request=request, **pc.encode)
            response.body = output
        request.stage = "before_finalize"
        hooks = request.__dict__.get("hooks")
        if hooks is not None:
            # Hooks the handler attached (request.hooks.attach) run from here on.
            hooks.run("before_finalize")
        elif fast_session is not None:
            _run_planned(request, "before_finalize")
        response.finalize()

    def respond_plain(
        self,
        request: Request,
        response: Response,
        resolution: dispatch.Resolution,
        plain: dict[str, Any],
    ) -> None:
        """``do_respond`` for a path whose config turns on no tool but ``encode`` and
        ``trailing_slash`` (and the error ones), sets only plain request attributes and
        has no hook (``_plain_state``): the same steps, without the checks that config
        rules out."""
        d = request.__dict__
        # config, is_index, path_config and the config's request.* attributes.
        d.update(plain)
        pc: PathConfig = plain["path_config"]
        handler = resolution.handler
        vpath = resolution.vpath
        if vpath:
            vpath = [atom.replace("%2F", "/") for atom in vpath]
        if handler is None:
            page_handler: Any = NotFound()
            d["handler"] = page_handler
        else:
            # request.handler, built if read (see objects._Handler).
            d["_page_handler"] = (PageHandler, handler, vpath)
        request.stage = "process_query_string"
        params = request.params if request.query_string else d.setdefault("params", {})
        if request.method in request.methods_with_bodies:
            self.process_body(request)
            params = request.params
        request.stage = "before_handler"
        slash = pc.trailing_slash
        if slash is not None:
            # Only an index path without its slash (or, with extra=True, a non-index
            # path with one) can redirect: skip the call otherwise.
            is_index = request.is_index
            pi = request.path_info
            if (is_index is True and not pi.endswith("/")) or (
                is_index is False and pi.endswith("/")
            ):
                cptools.trailing_slash(**slash)
        request.stage = "handler"
        if handler is None:
            output = page_handler()
        else:
            try:
                output = handler(*vpath, **params)
            except TypeError as exc:
                dispatch.handler_type_error(handler, vpath, params, request, exc)
                raise
        self.after_handler(request, response, output)

    @staticmethod
    def after_handler(request: Request, response: Response, output: Any) -> None:
        """``respond_plain`` once the page handler has returned ``output``: encode it,
        ``before_finalize`` (hooks the handler attached), finalize."""
        pc: PathConfig = request.path_config  # type: ignore[attr-defined]
        encode = pc.encode
        if encode is not None:
            if not encode and output.__class__ is str:
                output = _encode_default(output, response, request)
            else:
                output = encode_output(output, response, request=request, **encode)
        response.body = output
        request.stage = "before_finalize"
        hooks = request.__dict__.get("hooks")
        if hooks is not None:
            # Hooks the handler attached (request.hooks.attach) run from here on.
            hooks.run("before_finalize")
        response.finalize()

    def run_with_hooks(self, request: Request, response: Response, pc: PathConfig) -> None:
        """The request with the hook machinery: every tool that is on attaches its
        hooks (the default ones too), then the hook points run in CherryPy's order."""
        point_hooks = pc.point_hooks
        if point_hooks is not None and not CLASS_HOOKS.attached:
            # Every tool's hooks were attached and ordered once for the path: this
            # request's map starts as a copy of them (request.toolmaps is built from
            # the path's on first use).
            # HookMap() with these lists, without running its __init__ for nothing.
            hooks = HookMap.__new__(HookMap)
            dict.update(hooks, zip(point_hooks, map(list, point_hooks.values())))
            request.__dict__["hooks"] = hooks
        else:
            hooks = request.hooks
            request.toolmaps = {
                ns: {name: dict(args) for name, args in toolmap.items()}
                for ns, toolmap in pc.toolmaps.items()
            }
            for point, hook in pc.hooks:
                hooks[point].append(hook)
            for namespace_handler, items in pc.custom:
                _apply_namespace(namespace_handler, items)
            for step in pc.plan:
                if step.__class__ is tuple:
                    # The hook the tool's _setup() would attach, built once per path.
                    hooks[step[0]].append(step[1])
                else:
                    step._setup()
        request.stage = "on_start_resource"
        hooks.run("on_start_resource")
        request.stage = "process_query_string"
        request.params  # noqa: B018 - parsed (and its errors raised) before the body
        if request.process_request_body and request.method not in request.methods_with_bodies:
            request.process_request_body = False
        request.stage = "before_request_body"
        hooks.run("before_request_body")
        self.process_body(request)
        request.stage = "before_handler"
        hooks.run("before_handler")
        if request.handler is not None:
            request.stage = "handler"
            body = request.handler()
            if body.__class__ is bytes:
                # As CherryPy's response.body: an iterable of chunks for the hooks that
                # follow (tools iterate it).
                body = [body] if body else []
            response.body = body
        request.stage = "before_finalize"
        hooks.run("before_finalize")
        response.finalize()

    @staticmethod
    def process_body(request: Request) -> None:
        """Read the form fields of a body method's entity into ``request.params``."""
        if request.process_request_body and request.method in request.methods_with_bodies:
            headers = request.headers
            if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                raise HTTPError(411)
            request.body.process()


def _recursive_redirects(request: Request, app: Any) -> bool:
    """Whether an internal redirect may visit a URL again: ``request.recursive_redirect``
    or, as CherryPy's ``InternalRedirector(recursive=True)``, the application's
    ``wsgi.InternalRedirector.recursive`` (read only when a redirect repeats)."""
    if request.recursive_redirect:
        return True
    config = getattr(getattr(app, "wsgiapp", None), "config", None) or {}
    return bool(config.get("InternalRedirector", {}).get("recursive", False))


def _plain_state(pc: PathConfig, resolution: dispatch.Resolution) -> dict[str, Any] | None:
    """What a request of a plain path (see ``RequestHandler.respond_plain``) starts
    with in its ``__dict__``: the resolution's config and ``is_index``, the compiled
    path config, and the config's ``request.*`` attributes; None when the path is not
    plain (a tool other than the inline default ones, a hook, a session, json_out, a
    static tool, response attributes or headers, error pages, body attributes, or a
    request attribute that is not a plain one)."""
    if (
        pc.needs_hooks
        or pc.fast_session is not None
        or pc.json_out is not None
        or pc.static is not None
        or pc.response_attrs
        or pc.response_headers
        or pc.error_pages
        or pc.body_attrs
    ):
        return None
    state: dict[str, Any] = {
        "config": resolution.config,
        "is_index": resolution.is_index,
        "path_config": pc,
    }
    for name, value in pc.request_attrs:
        # setattr() through a descriptor (request.login, request_line, remote...) or
        # onto an attribute with a special meaning: the general path.
        if name in state or hasattr(getattr(Request, name, None), "__set__"):
            return None
        state[name] = value
    return state


def _quick_state(
    pc: PathConfig, resolution: dispatch.Resolution, plain: dict[str, Any], path: str
) -> dict[str, Any] | None:
    """A plain path's state (``plain``) when its requests without a query string or a
    body can take the quick path (``RequestHandler.quick``): a page handler, the
    default ``tools.encode``, no trailing-slash redirect to consider for ``path``,
    and the class's ``methods_with_bodies``; None otherwise."""
    if resolution.handler is None or pc.encode != {} or "methods_with_bodies" in plain:
        return None
    if pc.trailing_slash is not None:
        is_index = resolution.is_index
        if (is_index is True and not path.endswith("/")) or (
            is_index is False and path.endswith("/")
        ):
            return None
    return plain


class _Quick(BaseException):
    """Raised (once per path) by ``do_respond`` when the first request of a quick
    path is dispatched: ``RequestHandler.__call__`` serves it with ``quick``. Not an
    Exception: no error handling of the request catches it."""


class _PendingPair:
    """The current ``(request, response)`` of a quick request: both are built when
    first asked for (``cherrypy.request``, ``cherrypy.response``, ``serving``), as
    ``respond_plain`` would have them when the handler runs, and become the current
    pair from then on."""

    __slots__ = ("app", "core", "pair", "resolution", "state")

    def __init__(
        self, core: Any, app: Any, resolution: dispatch.Resolution, state: dict[str, Any]
    ) -> None:
        self.core = core
        self.app = app
        self.resolution = resolution
        self.state = state
        self.pair: tuple[Request, Response] | None = None

    def get(self) -> tuple[Request, Response]:
        pair = self.pair
        if pair is None:
            request = Request(self.core, self.app)
            d = request.__dict__
            d.update(self.state)
            resolution = self.resolution
            vpath = resolution.vpath
            if vpath:
                vpath = [atom.replace("%2F", "/") for atom in vpath]
            d["_page_handler"] = (PageHandler, resolution.handler, vpath)
            d["params"] = {}
            d["stage"] = "handler"
            pair = self.pair = (request, Response())
            _current.set(pair)
        return pair

    def __getitem__(self, index: int) -> Any:
        return self.get()[index]

    def __iter__(self) -> Any:
        return iter(self.get())

    def __len__(self) -> int:
        return 2


class _Returned:
    """The quick path's hand-over of a handler's output: the rest of
    ``respond_plain``."""

    __slots__ = ("handler", "output")

    def __init__(self, handler: RequestHandler, output: Any) -> None:
        self.handler = handler
        self.output = output

    def __call__(self, request: Request, response: Response) -> None:
        output = self.output
        self.output = None
        self.handler.after_handler(request, response, output)


class _Raised:
    """The quick path's hand-over of a handler's exception, raised again where
    ``respond_plain`` would have seen it (a TypeError from an argument mismatch
    becomes the 404 it gives)."""

    __slots__ = ("args", "exc", "func")

    def __init__(self, exc: BaseException, func: Any, args: list[str]) -> None:
        self.exc = exc
        self.func = func
        self.args = args

    def __call__(self, request: Request, response: Response) -> None:
        exc = self.exc
        self.exc = None  # type: ignore[assignment]
        try:
            if isinstance(exc, TypeError):
                dispatch.handler_type_error(self.func, self.args, {}, request, exc)
            raise exc
        finally:
            del exc


#: The headers of a quick reply: ``Response``'s defaults, text encoded as UTF-8.
_QUICK_HEADERS = [("Content-Type", "text/html;charset=utf-8"), ("Server", SERVER_HEADER)]

#: "text/html" -> "text/html;charset=utf-8": the Content-Type _encode_default sets.
_UTF8_TYPES: dict[str, str] = {"text/html": "text/html;charset=utf-8"}


def _encode_default(output: str, response: Response, request: Request) -> Any:
    """``encode_output(output, response, request=request)`` (``tools.encode`` with its
    default arguments) for a str, without the negotiation when the request names no
    charset and the response's Content-Type is plain text/* without parameters."""
    headers = response.headers
    ctype = dict.get(headers, "Content-Type")
    with_charset = _UTF8_TYPES.get(ctype) if ctype.__class__ is str else None
    if with_charset is None and ctype.__class__ is str and ctype[:5] == "text/":
        if ";" not in ctype:
            with_charset = ctype + ";charset=utf-8"
            if len(_UTF8_TYPES) < 64:
                _UTF8_TYPES[ctype] = with_charset
    if with_charset is not None:
        parsed = request.__dict__.get("headers")
        accept = (
            request._core.header("Accept-Charset")
            if parsed is None
            else parsed.get("Accept-Charset")
        )
        if accept is None:
            try:
                body = output.encode("utf-8")
            except UnicodeError:
                raise HTTPError(500, "Response body could not be encoded with 'utf-8'.") from None
            if not response.stream:
                dict.pop(headers, "Content-Length", None)
            dict.__setitem__(headers, "Content-Type", with_charset)
            return body
    return encode_output(output, response, request=request)


def _run_planned(request: Request, point: str) -> None:
    """Run (once) the hooks the path planned at ``point`` for a request without a hook
    map (the session fast path)."""
    planned = request.__dict__.get("_planned")
    if planned:
        hooks = planned.pop(point, None)
        if hooks:
            if len(hooks) == 1 and hooks[0].__class__ is Hook:
                # HookMap.run_sorted's case of one plain hook, inline.
                hook = hooks[0]
                try:
                    hook.callback(**hook.kwargs)  # type: ignore[misc]
                except QUIET_ERRORS:
                    raise
                except Exception:
                    log_hook_error()
                    raise
            else:
                HookMap.run_sorted(hooks)


def _chunked_body(response: Response) -> None:
    """A page set as bytes (``HTTPError.set_response``) as CherryPy's ``response.body``
    holds it for the hooks that follow: a list of chunks (tools iterate it)."""
    body = response.body
    if body.__class__ is bytes:
        response.body = [body] if body else []


def _apply_attributes(pc: PathConfig, request: Request, response: Response) -> None:
    """The config's ``request.*``, ``response.*``, ``error_page.*`` entries."""
    for name, value in pc.request_attrs:
        setattr(request, name, value)
    for name, value in pc.response_attrs:
        setattr(response, name, value)
    for name, value in pc.response_headers:
        response.headers[name] = value
    if pc.error_pages:
        request.error_page = {**request.error_page, **pc.error_pages}
    if pc.body_attrs:
        body = request.body
        for name, value in pc.body_attrs:
            setattr(body, name, value)


def _apply_namespace(handler: Any, items: list[tuple[str, Any]]) -> None:
    """Hand ``items`` to an application's request namespace handler (a callable, or a
    context manager whose ``__enter__`` returns one, as CherryPy accepts)."""
    if hasattr(handler, "__enter__"):
        with handler as setter:
            for key, value in items:
                setter(key, value)
    else:
        for key, value in items:
            handler(key, value)


def _serve_static(tool: str, kwargs: dict[str, Any]) -> bool:
    serve = static.staticdir if tool == "staticdir" else static.staticfile
    return bool(serve(**kwargs))
