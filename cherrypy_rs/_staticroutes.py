"""Compiling ``tools.staticdir`` / ``tools.staticfile`` config into Rust routes.

When the server starts (and whenever the tree or the global config changes), each
config section of each mounted application that turns one of the tools on becomes a
``_core.StaticRoute``: Rust then serves its files without calling Python, and hands
back to the application what it does not serve (other methods, missing files,
directories to redirect), as CherryPy's tools "fall through" to the page handler.

A section stays on the Python path, never silently losing behaviour, when its merged
config turns on anything that must see the request: another tool, a hook, a custom
dispatcher, ``request.*``/``response.*`` settings other than headers, or a ``match``
pattern (a Python regular expression). Sub-sections of a Rust route that do not serve
files are mounted as prefixes the application answers.

``check_application`` is run by ``tree.mount``: a static section without a usable
directory fails there, naming the section.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from . import _core
from ._tree import FAVICON, Application, DefaultFavicon, StaticDirectory

# lib.static also adds CherryPy's types to ``mimetypes``, which the routes use.
from .lib.httputil import HeaderMap
from .lib.static import static_path
from .objects import SERVER_HEADER

#: Tools whose work on a static response is done by the Rust route itself, or that only
#: act when a request fails (which the Python path handles).
RUST_TOOLS = frozenset(
    {
        "staticdir",
        "staticfile",
        "encode",
        "decode",
        "trailing_slash",
        "log_tracebacks",
        "log_headers",
    }
)

#: Namespaces that configure the process or error pages, not how a file is answered.
PASSIVE_NAMESPACES = frozenset(
    {"log", "server", "engine", "checker", "environment", "tree", "error_page", "autoreload"}
)

#: request.* / response.* keys that change nothing for a file served by Rust.
PASSIVE_KEYS = frozenset(
    {
        "request.show_tracebacks",
        "request.show_mismatched_params",
        "request.throw_errors",
        "request.query_string_encoding",
        "request.process_request_body",
        "request.methods_with_bodies",
        "response.stream",
        "response.timeout",
    }
)

#: A path segment no object tree is expected to have: the section's own config is read
#: by dispatching a path below it.
PROBE = "cherrypy_rs-static-probe"

#: Seconds a file served from the cache goes unchecked on disk.
DEFAULT_CACHE_VALID = 1.0


def python_only_keys(
    config: dict[str, Any],
    toolboxes: Any = ("tools",),
    request_namespaces: Any = (),
) -> list[str]:
    """The keys of a merged config that need the request to go through Python.

    ``toolboxes``: the application's toolbox namespaces (a tool of any of them that is
    on runs per request, as CherryPy applies every toolbox to each request);
    ``request_namespaces``: request-level namespaces the application added (their
    handlers run per request)."""
    found = []
    for key, value in config.items():
        namespace, _, rest = key.partition(".")
        if namespace in toolboxes:
            name, _, attr = rest.partition(".")
            if namespace == "tools" and name in RUST_TOOLS:
                if name in ("staticdir", "staticfile") and attr == "match" and value:
                    found.append(key)
                continue
            if attr == "on" and value:
                found.append(key)
        elif namespace in request_namespaces:
            found.append(key)
        elif namespace in ("hooks", "wsgi"):
            found.append(key)
        elif namespace in ("request", "response"):
            if key in PASSIVE_KEYS or key.startswith("response.headers."):
                continue
            found.append(key)
    return found


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


def _section_config(app: Any, section: str, global_config: dict[str, Any]) -> Any:
    """The merged config a request below ``section`` gets, or None when it cannot be
    known without a request (a ``_cp_dispatch`` on the way, a failing attribute)."""
    probe = section.rstrip("/") + "/" + PROBE
    try:
        resolution = app.dispatcher.resolve(app, probe, global_config)
    except Exception:
        return None
    if not resolution.cacheable:
        return None
    return resolution.config


def _content_types(configured: Any, what: str) -> dict[str, str]:
    """Python's mimetypes (as CherryPy uses them), then the section's own table."""
    table = {ext[1:]: ctype for ext, ctype in mimetypes.types_map.items()}
    if configured:
        if not isinstance(configured, dict):
            raise ValueError(f"{what}.content_types must be a dict of extension -> type")
        table.update({str(k): str(v) for k, v in configured.items()})
    return table


def _headers(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The section's ``response.headers.*`` as the Python path sends them (a value
    that is not text as ``str(value)``, Latin-1 or RFC 2047, control characters out)."""
    headers = [("Server", SERVER_HEADER)]
    items = [
        (key[len("response.headers.") :], value)
        for key, value in config.items()
        if key.startswith("response.headers.")
    ]
    for name, value in HeaderMap.encode_header_items(items):
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    return headers


def static_kind(config: dict[str, Any]) -> str | None:
    """ "staticdir", "staticfile" or None: which tool the config turns on."""
    if config.get("tools.staticdir.on"):
        return "staticdir"
    if config.get("tools.staticfile.on"):
        return "staticfile"
    return None


def _label(script_name: str, section: str, key: str) -> str:
    where = f"{script_name} " if script_name else ""
    return f"[{where}{section}] {key}"


def _rust_headers(config: dict[str, Any], app: Any) -> list[tuple[str, str]] | None:
    """The response headers a Rust route of this merged config sends, or None when the
    config needs the Python path: a tool of any of the application's toolboxes that is
    on, a request namespace it added, a hook..., or a header value beyond ASCII (Rust
    would send it as UTF-8 where the Python path sends Latin-1 bytes)."""
    toolboxes = getattr(app, "toolboxes", None) or ("tools",)
    request_namespaces = getattr(getattr(app, "request_class", None), "namespaces", None) or ()
    if python_only_keys(config, toolboxes, request_namespaces):
        return None
    headers = _headers(config)
    if not all(value.isascii() for _name, value in headers):
        return None
    return headers


def _route(script_name: str, section: str, config: dict[str, Any], app: Any = None) -> Any:
    """The Rust route for a section whose merged config is ``config``, or None when it
    serves no files or must stay on the Python path."""
    kind = static_kind(config)
    if kind is None:
        return None
    headers = _rust_headers(config, app)
    if headers is None:
        return None
    prefix = script_name + ("" if section == "/" else section.rstrip("/"))
    common: dict[str, Any] = {
        "headers": headers,
        "cache_valid": float(config.get(f"tools.{kind}.cache_valid", DEFAULT_CACHE_VALID)),
    }
    if kind == "staticdir":
        what = _label(script_name, section, "tools.staticdir.dir")
        directory = static_path(
            config.get("tools.staticdir.dir"), config.get("tools.staticdir.root"), what
        )
        home = str(config.get("tools.staticdir.section", section))
        home = "" if home in ("global", "/") else home.rstrip("/")
        return _core.StaticRoute(
            prefix,
            strip=len(script_name + home),
            directory=directory,
            index=config.get("tools.staticdir.index") or None,
            content_types=_content_types(config.get("tools.staticdir.content_types"), what),
            dotfiles=bool(config.get("tools.staticdir.dotfiles", True)),
            precompressed=bool(config.get("tools.staticdir.precompressed", False)),
            what=what,
            **common,
        )
    what = _label(script_name, section, "tools.staticfile.filename")
    filename = static_path(
        config.get("tools.staticfile.filename"), config.get("tools.staticfile.root"), what
    )
    return _core.StaticRoute(
        prefix,
        filename=filename,
        content_types=_content_types(config.get("tools.staticfile.content_types"), what),
        precompressed=bool(config.get("tools.staticfile.precompressed", False)),
        what=what,
        **common,
    )


def _favicon_route(app: Any, global_config: dict[str, Any]) -> Any:
    """The Rust route of the default ``/favicon.ico``, or None when the config of the
    application's root asks for something only the Python path does (a tool that is
    on, ``tools.auth_basic`` in ``[global]`` or ``[/]`` among them, a hook...): then
    ``DefaultFavicon`` answers through the application, as in CherryPy."""
    config = _section_config(app, "/", global_config)
    if config is None:
        return None
    config = {
        k: v
        for k, v in config.items()
        if not k.startswith(("tools.staticdir.", "tools.staticfile."))
    }
    headers = _rust_headers(config, app)
    if headers is None:
        return None
    return _core.StaticRoute(
        "/favicon.ico",
        filename=FAVICON,
        content_types={"ico": "image/x-icon"},
        headers=headers,
        what="the default /favicon.ico",
    )


def _directory_route(app: Any, script_name: str) -> Any:
    """The Rust route of a ``StaticDirectory`` (no application behind it)."""
    return _core.StaticRoute(
        script_name,
        directory=app.directory,
        index=app.index,
        listing=app.listing,
        dotfiles=app.dotfiles,
        precompressed=app.precompressed,
        cache_valid=app.cache_valid,
        headers=app.headers,
        what=f"static directory {app.directory!r}",
    )


def _sections(app: Any) -> list[str]:
    """The application's path sections, parents first ("/" always)."""
    names = {"/"} | {s for s in app.config if s.startswith("/")}
    return sorted(names, key=lambda s: (s.rstrip("/").count("/"), s))


def check_application(app: Any, script_name: str, global_config: dict[str, Any]) -> None:
    """Raise ValueError, naming the section, for a static section whose directory or
    file setting is missing, relative without a root, or (for a directory) absent."""
    for section in _sections(app):
        own = app.config.get(section, {})
        if not (own.get("tools.staticdir.on") or own.get("tools.staticfile.on")):
            continue
        config = _section_config(app, section, global_config) or dict(own)
        kind = static_kind(config)
        if kind == "staticdir":
            what = _label(script_name, section, "tools.staticdir.dir")
            directory = static_path(
                config.get("tools.staticdir.dir"), config.get("tools.staticdir.root"), what
            )
            if not os.path.isdir(directory):
                raise ValueError(f"{what} {directory!r} is not an existing directory")
        elif kind == "staticfile":
            what = _label(script_name, section, "tools.staticfile.filename")
            static_path(
                config.get("tools.staticfile.filename"),
                config.get("tools.staticfile.root"),
                what,
            )


def compile_routes(
    ordered: list[tuple[str, Any]], global_config: dict[str, Any]
) -> tuple[list[tuple[Any, int | None]], list[tuple[str, int]]]:
    """``(statics, sections)`` for ``_core.Server.set_mounts``, from the tree's mounts
    in router order."""
    names = [name for name, _ in ordered]
    statics: list[tuple[Any, int | None]] = []
    sections: list[tuple[str, int]] = []
    for index, (script_name, app) in enumerate(ordered):
        if isinstance(app, StaticDirectory):
            statics.append((_directory_route(app, script_name), None))
            continue
        if not isinstance(app, Application):
            continue
        if getattr(app.wsgiapp, "pipeline", None):
            # Its WSGI middleware (an authentication one among them) must see every
            # request, files included: none is answered by Rust alone.
            continue
        rust_prefixes: list[str] = []
        if script_name == "" and isinstance(getattr(app.root, "favicon_ico", None), DefaultFavicon):
            icon = _favicon_route(app, global_config)
            if icon is not None and "/favicon.ico" not in app.config:
                statics.append((icon, index))
        for section in _sections(app):
            prefix = script_name + ("" if section == "/" else section.rstrip("/"))
            if any(
                len(other) > len(script_name) and _under(prefix, other)
                for other in names
                if other != script_name
            ):
                # Another application owns these URLs (the longest script name wins).
                continue
            config = _section_config(app, section, global_config)
            route = _route(script_name, section, config, app) if config is not None else None
            if route is not None:
                statics.append((route, index))
                rust_prefixes.append(prefix)
            elif prefix != script_name and any(_under(prefix, p) for p in rust_prefixes):
                sections.append((prefix, index))
    return statics, sections
