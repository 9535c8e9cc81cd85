"""The request path in Python: ``RequestHandler`` is what a Rust worker thread calls
for each request to a mounted application. It dispatches, runs the page handler, turns
errors into CherryPy's responses, and returns plain ``(status, reason, headers, body)``
for Rust to send."""

from __future__ import annotations

import logging
from typing import Any, Callable

from . import dispatch
from ._core import StaticFile
from .bodies import release as release_body
from .context import _current
from .errors import (
    HTTPError,
    HTTPRedirect,
    InternalRedirect,
    NotFound,
    bare_error,
    format_exc,
)
from .lib import static
from .lib.cptools import trailing_slash
from .lib.encoding import encode_output
from .lib.httputil import valid_status
from .objects import Request, Response, as_bytes


def _serve_static(tool: str, kwargs: dict[str, Any]) -> bool:
    serve = static.staticdir if tool == "staticdir" else static.staticfile
    return bool(serve(**kwargs))


def _uri(path: str, query_string: str) -> str:
    return f"{path}?{query_string}" if query_string else path


def _release(request: Request) -> None:
    """Close a spooled body's file and multipart part files (and those of
    internal-redirect predecessors)."""
    while request is not None:
        state = request.__dict__
        release_body(state.get("body"), state.get("rfile"))
        request = request.prev  # type: ignore[assignment]


class RequestHandler:
    """Called by a Rust worker thread for every request to a mounted application."""

    def __init__(
        self, apps: list[Any], global_config: dict[str, Any], log_error: Callable[..., None]
    ) -> None:
        #: Applications by their index in the Rust router.
        self.apps = apps
        self.global_config = global_config
        self.log_error = log_error

    def __call__(self, core: Any) -> tuple[int, str | None, list[tuple[str, str]], Any]:
        app = self.apps[core.app]
        request = Request(core, app)
        response = Response()
        token = _current.set((request, response))
        try:
            # URIs (path?query) already served for this client request: a repeat is a
            # loop (CherryPy's InternalRedirector raises RuntimeError → 500).
            redirections: list[str] = []
            while True:
                try:
                    self.respond(request, response)
                    break
                except InternalRedirect as ir:
                    redirections.append(_uri(request.path_info, request.query_string))
                    target = _uri(ir.path, ir.query_string)
                    if not request.recursive_redirect and target in redirections:
                        # CherryPy raises out of the application here: the server sends
                        # its bare text/plain 500.
                        try:
                            raise RuntimeError(
                                f"InternalRedirector visited the same URL twice: {target!r}"
                            ) from None
                        except RuntimeError:
                            return self.bare_error(request)
                    previous = request
                    request = Request(core, app, "GET", ir.path, ir.query_string, b"")
                    request.prev = previous
                    response = Response()
                    _current.set((request, response))
            return self.finalize(request, response)
        except Exception:
            return self.bare_error(request)
        finally:
            _current.reset(token)
            _release(request)

    def bare_error(self, request: Request) -> tuple[int, str | None, list[tuple[str, str]], Any]:
        """CherryPy's last-resort 500 (text/plain), for errors outside the handler's
        error handling; the traceback is logged, and shown if show_tracebacks is on."""
        tb = format_exc()
        self.log_error(tb, severity=logging.ERROR)
        _status, headers, body = bare_error(tb if request.show_tracebacks else "")
        return (500, None, [(k.decode(), v.decode()) for k, v in headers], body[0])

    def respond(self, request: Request, response: Response) -> None:
        """Dispatch and run the handler, turning exceptions into responses."""
        try:
            try:
                self.run_handler(request, response)
            except (HTTPRedirect, HTTPError) as inst:
                inst.set_response()
        except InternalRedirect:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            if request.throw_errors:
                raise
            self.log_error(traceback=True, severity=logging.ERROR)
            response.headers.pop("Content-Length", None)
            HTTPError(500).set_response()

    def run_handler(self, request: Request, response: Response) -> None:
        app = request.app
        resolution = dispatch.find(app.dispatcher, app, request.path_info, self.global_config)
        config = resolution.config
        request.config = config
        request.is_index = resolution.is_index
        for name, value in resolution.request_attrs:
            if name.startswith("body."):
                # CherryPy's request.body.* config entries set request.body attributes.
                setattr(request.body, name[5:], value)
            else:
                setattr(request, name, value)
        for name, value in resolution.response_attrs:
            setattr(response, name, value)
        for name, value in resolution.response_headers:
            response.headers[name] = value
        # CherryPy parses the query string before dispatching the body or the handler.
        params = request.params
        if request.process_request_body and request.method in request.methods_with_bodies:
            headers = request.headers
            if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                raise HTTPError(411)
            request.body.process()
        if resolution.static is not None and _serve_static(*resolution.static):
            # Served by tools.staticdir/staticfile: the page handler does not run.
            return
        handler = resolution.handler
        if handler is None:
            raise NotFound()
        if config.get("tools.trailing_slash.on", True):
            trailing_slash(
                request,
                config.get("tools.trailing_slash.missing", True),
                config.get("tools.trailing_slash.extra", False),
                config.get("tools.trailing_slash.status"),
            )
        request.handler = handler
        vpath = [atom.replace("%2F", "/") for atom in resolution.vpath]
        request.args = tuple(vpath)
        request.kwargs = params
        output = dispatch.call_handler(handler, vpath, request)
        response.body = encode_output(output, request, response)

    def finalize(
        self, request: Request, response: Response
    ) -> tuple[int, str | None, list[tuple[str, str]], Any]:
        """Status, header list and body (bytes or an iterator when streaming)."""
        status = response.status
        reason: str | None = None
        if status.__class__ is not int or not 200 <= status < 600:
            try:
                status, reason, _ = valid_status(status)
            except ValueError as exc:
                response.status = 500
                HTTPError(500, exc.args[0]).set_response()
                status = 500
        headers = response.headers
        body = response.body
        if response.stream and not (status < 200 or status in (204, 205, 304)):
            # Streamed (chunked) whatever the body is, as CherryPy does.
            if dict.get(headers, "Content-Length") is None:
                dict.pop(headers, "Content-Length", None)
            if body is None:
                body = []
            elif isinstance(body, bytes):
                body = [body]
        elif status < 200 or status in (204, 205, 304):
            dict.pop(headers, "Content-Length", None)
            if body is not None and not isinstance(body, (bytes, str, StaticFile)):
                as_bytes(body)
            body = b""
        elif body.__class__ is not StaticFile:
            try:
                body = as_bytes(body)
            except ValueError:
                self.log_error(traceback=True, severity=logging.ERROR)
                response.status = 500
                response.body = None
                HTTPError(500).set_response()
                return self.finalize(request, response)
        header_list = [(k, v if v.__class__ is str else str(v)) for k, v in dict.items(headers)]
        if "cookie" in response.__dict__:
            for morsel in response.cookie.values():
                header_list.append(("Set-Cookie", morsel.OutputString()))
        response.header_list = header_list
        return status, reason, header_list, body
