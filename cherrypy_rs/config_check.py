"""Strict config checks: a key cherrypy_rs would not honour is an error at start.

CherryPy accepts any key and, at best, its checker warns. Here a key that would be
silently ignored — an unknown tool or one not implemented yet, an argument a tool does
not take, a namespace nobody handles, a misspelt ``request.*``/``response.*`` attribute,
a site-wide key in an application section — raises ``ConfigError`` naming where the
key is (file/section, object, handler) and what to do. Security tools
(``tools.auth_basic``, ``auth_digest``, ``session_auth``, ``proxy``) get the loudest
message: accepting them without enforcing them would leave the site open.

Entry points: ``check_global(config)`` (``config.update``), ``check_app(app)`` (at
``tree.mount``: its sections and every ``_cp_config`` on the mounted object tree),
``check_namespaces(app)`` (at server start, once applications had their chance to
register namespaces), ``check_server_value`` (the type of a ``server.*`` value). The
toolbox (``context.site.tools``) decides which tools exist once it is there.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

from . import context
from ._config import Config
from ._tree import Application
from .bodies import RequestBody
from .default_tools import tools
from .objects import Request, Response
from .toolbox import _arg_names, accepts_any_keyword

__all__ = [
    "SECURITY_TOOLS",
    "ConfigError",
    "check_app",
    "check_global",
    "check_mounts",
    "check_namespaces",
    "check_section",
    "check_server_value",
]


class ConfigError(ValueError):
    """A config key cherrypy_rs cannot honour; the message names it and what to do."""

    #: The message says all there is: the engine logs it without a traceback.
    quiet = True


#: Tools whose being accepted without effect would leave the site unprotected.
SECURITY_TOOLS = ("auth_basic", "auth_digest", "session_auth", "proxy")

#: Namespaces every application section may use (besides registered ones).
_REQUEST_NAMESPACES = {"request", "response", "tools", "hooks", "error_page", "wsgi"}
#: Namespaces only the global config may use.
_SITE_NAMESPACES = {"server", "engine", "tree", "checker", "log"}

#: CherryPy's hook points (``hooks.<point>``).
HOOK_POINTS = (
    "on_start_resource",
    "before_request_body",
    "before_handler",
    "before_finalize",
    "on_end_resource",
    "on_end_request",
    "before_error_response",
    "after_error_response",
)


def _suggest(name: str, candidates: Any) -> str:
    # Lazy: difflib costs ~0.2 MiB per process; only a misspelt key's message needs it.
    import difflib

    close = difflib.get_close_matches(name, [str(c) for c in candidates], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- tools -----------------------------------------------------------------------------


def _tool_names(box: Any) -> list[str]:
    return sorted(
        n for n in dir(box) if not n.startswith("_") and hasattr(getattr(box, n, None), "_setup")
    )


def _check_tools(ns: str, box: Any, entries: dict[str, Any], where: str) -> None:
    """``<ns>.<tool>.<arg>`` entries of one section, against the toolbox ``box``."""
    by_tool: dict[str, dict[str, Any]] = {}
    for key, value in entries.items():
        name, _, arg = key.partition(".")
        by_tool.setdefault(name, {})[arg] = value
    for name, args in by_tool.items():
        if set(args) == {"on"} and not args["on"]:
            continue  # turning off a tool that does not run changes nothing
        if "" in args:
            raise ConfigError(
                f"{where}: {ns}.{name}: a tool key names an argument of the tool, so the "
                f"key would do nothing; write {ns}.{name}.on = True (and "
                f"{ns}.{name}.<argument> = value)"
            )
        tool = getattr(box, name, None) if not name.startswith("_") else None
        first = f"{ns}.{name}.{next(iter(args))}"
        if tool is None or not hasattr(tool, "_setup"):
            known = _tool_names(box)
            if name in SECURITY_TOOLS:
                raise ConfigError(
                    f"{where}: {first}: the {name} tool is not implemented in cherrypy_rs "
                    "yet, and accepting it without enforcing it would leave these pages "
                    f"unprotected. Remove every {ns}.{name}.* key and protect the pages "
                    f"another way (a reverse proxy, or a tool of your own on cherrypy.{ns})"
                )
            raise ConfigError(
                f"{where}: {first}: there is no tool {name!r}{_suggest(name, known)} in "
                f"cherrypy.{ns} (it has {', '.join(known)}); remove the key, fix the name, "
                f"or register the tool (cherrypy.{ns}.{name} = Tool(...)) first"
            )
        arguments = getattr(tool, "arguments", None)
        if arguments is None:
            continue
        accepted, any_keyword = arguments()
        # A tool whose arguments depend on each other (tools.sessions: the store's options
        # depend on storage_class) checks them itself.
        check = getattr(tool, "check_arguments", None)
        problem = check(args) if check is not None else None
        if problem:
            raise ConfigError(f"{where}: {problem}")
        if any_keyword:
            continue
        accepted = set(accepted) | {"on", "priority"}
        for arg in args:
            if arg not in accepted:
                raise ConfigError(
                    f"{where}: {ns}.{name}.{arg}: the {name} tool takes no argument "
                    f"{arg!r}{_suggest(arg, accepted)}; it takes "
                    f"{', '.join(sorted(accepted))}"
                )


# -- request / response / hooks / error_page -------------------------------------------


def _check_attr(kind: str, cls: Any, attr: str, where: str, extra: set[str]) -> None:
    if attr in extra or (hasattr(cls, attr) and not attr.startswith("_")):
        return
    known = [n for n in dir(cls) if not n.startswith("_")] + sorted(extra)
    raise ConfigError(
        f"{where}: {kind}.{attr}: cherrypy.{kind} has no attribute {attr!r}"
        f"{_suggest(attr, known)}, so the key would do nothing. Fix the name; for a "
        f"value of your own, use a key without a namespace ('{attr}') and read it from "
        f"cherrypy.request.config, or declare it on the class first "
        f"(cherrypy._cprequest.{cls.__name__}.{attr} = None)"
    )


def _check_request(app: Any, attr: str, value: Any, where: str) -> None:
    cls = getattr(app, "request_class", None) if app is not None else None
    if cls is None:
        cls = Request
    head, _, rest = attr.partition(".")
    if head == "body" and rest:
        _check_attr("request.body", RequestBody, rest, where, set())
        return
    if attr == "handler":
        raise ConfigError(
            f"{where}: request.handler: the page handler is chosen by the dispatcher for "
            "each request, and cherrypy_rs does not replace it from config; expose the "
            "callable on the object tree (or set request.handler from a tool or hook)"
        )
    _check_attr("request", cls, attr, where, {"dispatch"})
    if attr == "dispatch" and not (callable(value) or hasattr(value, "resolve_for")):
        raise ConfigError(
            f"{where}: request.dispatch = {value!r} is not a dispatcher: use e.g. "
            "cherrypy.dispatch.MethodDispatcher()"
        )


def _check_response(app: Any, attr: str, where: str) -> None:
    if attr.startswith("headers."):
        return
    cls = getattr(app, "response_class", None) if app is not None else None
    if cls is None:
        cls = Response
    if attr in _NO_RESPONSE_TIMEOUT:
        raise ConfigError(
            f"{where}: response.{attr}: there is no response timeout in cherrypy_rs (nor "
            "in CherryPy 18, which removed its timeout monitor), so the key would do "
            "nothing; remove it (server.socket_timeout bounds slow clients, and the "
            "cherrypy-rs command's --timeout replaces a worker stuck in a handler)"
        )
    _check_attr("response", cls, attr, where, set())


#: Response attributes kept for code that reads them, which nothing acts on.
_NO_RESPONSE_TIMEOUT = frozenset({"timeout", "timed_out", "check_timeout"})


def _check_hook(app: Any, point: str, value: Any, where: str) -> None:
    # The global config is merged into every request's config: its hooks run too.
    cls = getattr(app, "request_class", None) if app is not None else Request
    if cls is None or not hasattr(cls, "hooks"):
        raise ConfigError(
            f"{where}: hooks.{point}: hooks in config are not run by cherrypy_rs yet; "
            "remove the key (or call the function from the page handler)"
        )
    if point not in HOOK_POINTS:
        raise ConfigError(
            f"{where}: hooks.{point}: there is no hook point {point!r}"
            f"{_suggest(point, HOOK_POINTS)}; the points are {', '.join(HOOK_POINTS)}"
        )
    if not callable(value):
        raise ConfigError(f"{where}: hooks.{point} = {value!r} is not callable")


def _check_error_page(code: str, value: Any, where: str) -> None:
    if code != "default" and not (code.isdigit() and 400 <= int(code) <= 599):
        raise ConfigError(f"{where}: error_page.{code}: use an error status (400-599) or 'default'")
    if not (isinstance(value, str) or callable(value)):
        raise ConfigError(
            f"{where}: error_page.{code} = {value!r}: give a template file name or a callable"
        )


# -- sections ---------------------------------------------------------------------------


def check_section(
    entries: dict[str, Any],
    where: str,
    app: Any = None,
    site: bool = False,
    path_section: bool = False,
) -> None:
    """Check one flat config section. ``site``: the global config (site-wide
    namespaces allowed). Unknown namespaces are left to ``check_namespaces``."""
    boxes = getattr(app, "toolboxes", None) or {"tools": tools}
    found: dict[str, dict[str, Any]] = {}
    obsolete = getattr(getattr(context.site, "checker", None), "obsolete", None) or {}
    for key, value in entries.items():
        if key in obsolete:
            instead = obsolete[key]
            raise ConfigError(
                f"{where}: {key}: the key is obsolete (CherryPy 2) and nothing reads it; "
                + (f"use {instead!r} instead" if instead else "remove it")
            )
        if key == "environment" and not site:
            raise ConfigError(
                f"{where}: environment: environments are applied from the global config "
                "only (cherrypy.config.update), so here the key would do nothing; move it "
                "to [global]"
            )
        if not isinstance(key, str) or "." not in key:
            continue  # an application's own value (request.config['key'])
        ns, rest = key.split(".", 1)
        if ns in boxes:
            found.setdefault(ns, {})[rest] = value
        elif ns == "request":
            _check_request(app, rest, value, where)
            if rest == "dispatch" and not path_section:
                raise ConfigError(
                    f"{where}: request.dispatch is only read from an application's path "
                    "sections (as in CherryPy, the dispatcher is chosen before any "
                    "_cp_config is known): move it to the application's config, e.g. "
                    "{'/api': {'request.dispatch': cherrypy.dispatch.MethodDispatcher()}}"
                )
        elif ns == "response":
            _check_response(app, rest, where)
        elif ns == "hooks":
            _check_hook(app, rest, value, where)
        elif ns == "error_page":
            _check_error_page(rest, value, where)
        elif ns in _SITE_NAMESPACES and not site and ns != "log":
            raise ConfigError(
                f"{where}: {key}: {ns}.* keys are site-wide: move them to the [global] "
                "section (cherrypy.config.update), not an application's config"
            )
    for ns, tool_entries in found.items():
        _check_tools(ns, boxes[ns], tool_entries, where)


def check_global(config: dict[str, Any]) -> None:
    """The entries ``config.update`` is about to apply. Dict values (sections of a
    global config file without [global], which CherryPy stores as data) are left alone;
    so are the defaults' own values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) or Config.defaults.get(key, _MISSING) == value:
            continue
        if isinstance(key, str) and key.startswith("server."):
            check_server_value(key[7:], value)
        flat[key] = value
    check_section(flat, "[global]", site=True)


_MISSING = object()


# -- the object tree -------------------------------------------------------------------


def _attr(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)`` that survives objects whose attribute lookup raises
    something else than AttributeError (proxies such as ``cherrypy.request`` outside a
    request)."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _config_of(obj: Any) -> dict[str, Any] | None:
    conf = _attr(obj, "_cp_config")
    return conf if isinstance(conf, dict) else None


def _walk(root: Any, limit: int = 5000) -> Iterator[tuple[str, Any]]:
    """``(dotted path, object)`` for each object of the tree below ``root`` (reached
    by attribute, as the dispatcher walks it) that carries a ``_cp_config``: nodes,
    handlers, classes. Each object once, at most ``limit``; properties are not run."""
    # Lazy: inspect costs ~2.6 MiB per process; only the mount-time walk of the tree needs it.
    import inspect

    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("root", root)]
    while stack and len(seen) < limit:
        name, obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if _config_of(obj) is not None:
            yield name, obj
        try:
            attrs = [n for n in dir(obj) if not n.startswith("_")]
        except Exception:
            continue
        for attr in attrs:
            try:
                if isinstance(inspect.getattr_static(obj, attr), property):
                    continue
                child = getattr(obj, attr)
            except Exception:
                continue
            if child is None or isinstance(child, (str, bytes, numbers.Number, dict, list)):
                continue
            if inspect.ismodule(child):
                continue
            target = _attr(child, "__func__") or child
            if inspect.isroutine(child) or isinstance(child, type):
                if id(target) not in seen and _config_of(target) is not None:
                    seen.add(id(target))
                    yield f"{name}.{attr}", target
                continue
            if _attr(child, "exposed") or _has_handlers(child):
                stack.append((f"{name}.{attr}", child))


def _has_handlers(obj: Any) -> bool:
    """Whether ``obj``'s class has exposed methods or a ``_cp_config`` (a tree node)."""
    cls = type(obj)
    if cls.__module__ == "builtins":
        return False
    if isinstance(getattr(cls, "_cp_config", None), dict):
        return True
    return any(_attr(v, "exposed") for v in vars(cls).values())


def check_app(app: Any, script_name: str | None = None) -> None:
    """Every section of ``app``'s config and every ``_cp_config`` on its object tree."""
    mount = script_name if script_name is not None else getattr(app, "script_name", "")
    label = f"the application mounted at {mount or '/'!r}"
    for section, entries in getattr(app, "config", {}).items():
        if not isinstance(entries, dict):
            continue
        where = f"{label}, section [{section}]"
        if isinstance(section, str) and len(section) > 1 and section.endswith("/") and entries:
            raise ConfigError(
                f"{where}: a section path ending with '/' matches no request (the config "
                "of a path is looked up without it, as in CherryPy), so its keys would do "
                f"nothing; write [{section.rstrip('/') or '/'}]"
            )
        check_section(
            entries, where, app, site=section == "global", path_section=section != "global"
        )
    for path, obj in _tree_objects(app):
        check_section(obj._cp_config, f"{label}, _cp_config of {path}", app)


def _tree_objects(app: Any) -> Iterator[tuple[str, Any]]:
    """Objects with a ``_cp_config`` reachable from the root, and from the controllers
    of a ``RoutesDispatcher`` set as ``request.dispatch``."""
    root = getattr(app, "root", None)
    if root is not None:
        yield from _walk(root)
    for entries in getattr(app, "config", {}).values():
        dispatcher = entries.get("request.dispatch") if isinstance(entries, dict) else None
        controllers = getattr(dispatcher, "controllers", None)
        if isinstance(controllers, dict):
            for name, controller in controllers.items():
                for path, obj in _walk(controller):
                    yield path.replace("root", f"controller {name!r}", 1), obj


def known_namespaces(app: Any) -> set[str]:
    """The namespaces an application's sections may use."""
    known = set(_REQUEST_NAMESPACES)
    known.update(getattr(app, "namespaces", {}) or {})
    known.update(getattr(app, "toolboxes", {}) or {})
    request_class = getattr(app, "request_class", None)
    known.update(getattr(request_class, "namespaces", {}) or {})
    config = context.site.config
    known.update(getattr(config, "namespaces", {}) or {})
    checker = getattr(context.site, "checker", None)
    known.update(getattr(checker, "extra_config_namespaces", ()) or ())
    return known


def check_namespaces(app: Any, script_name: str | None = None) -> None:
    """Keys of ``app``'s sections and ``_cp_config`` in a namespace nobody handles
    (checked at start: applications register namespaces after mounting)."""
    known = known_namespaces(app)
    mount = script_name if script_name is not None else getattr(app, "script_name", "")
    label = f"the application mounted at {mount or '/'!r}"
    sections = [
        (s, e)
        for s, e in getattr(app, "config", {}).items()
        if isinstance(e, dict) and s != "global"
    ]
    places: list[tuple[str, dict[str, Any]]] = [(f"{label}, section [{s}]", e) for s, e in sections]
    places += [(f"{label}, _cp_config of {p}", o._cp_config) for p, o in _tree_objects(app)]
    _check_classes(app, label)
    app_level = _app_level_namespaces(app)
    root_section = f"{label}, section [/]"
    for where, entries in places:
        for key in entries:
            if not isinstance(key, str) or "." not in key:
                continue
            ns = key.split(".", 1)[0]
            if ns in app_level and where != root_section:
                _refuse_app_level_key(where, key, ns)
            if ns in known or ns in _SITE_NAMESPACES:
                continue
            if ns == "cherrypy" and key.split(".")[1] in known:
                raise ConfigError(
                    f"{where}: {key}: write {key.split('.', 1)[1]!r} (no 'cherrypy.')"
                )
            raise ConfigError(
                f"{where}: {key}: no handler for the {ns!r} namespace{_suggest(ns, known)}, "
                "so the key would do nothing. Register one (app.namespaces"
                f"[{ns!r}] = handler, or cherrypy.config.namespaces), or use a key "
                "without a namespace for a value of your own"
            )
    _check_session_auth(places)
    _check_wsgi_config(app, root_section)
    _check_global_namespaces(known)
    _check_app_global_section(app, label)


def check_mounts(tree: Any) -> None:
    """A path section of one application whose URLs another mount serves (a longer
    script name wins, as in CherryPy): nothing would read its keys; with
    ``tools.auth_basic`` in it, the other application would be served unprotected."""
    names = [name for name in getattr(tree, "apps", {})]
    _check_unprotected_mounts(tree)
    _check_path_sections_of_global_updates(tree)
    for script_name, app in list(getattr(tree, "apps", {}).items()):
        for section, entries in (getattr(app, "config", None) or {}).items():
            if not isinstance(entries, dict) or not entries or not isinstance(section, str):
                continue
            if not section.startswith("/"):
                continue
            prefix = script_name + ("" if section == "/" else section.rstrip("/"))
            for other in names:
                if len(other) > len(script_name) and (
                    prefix == other or prefix.startswith(other + "/")
                ):
                    raise ConfigError(
                        f"the application mounted at {script_name or '/'!r}, section "
                        f"[{section}]: its URLs are served by what is mounted at {other!r} "
                        "(the longest script name wins), so its keys would do nothing; "
                        "move them to that mount's own config"
                    )


def _check_path_sections_of_global_updates(tree: Any) -> None:
    """``cherrypy.config.update`` with application sections beside ``[global]`` (a
    config file or dict): the global config keeps ``[global]`` only, as CherryPy does.
    A section no mounted application has in its config (``tree.mount(root, "",
    config)``; ``quickstart`` passes it) would do nothing."""
    sections = getattr(getattr(context.site, "config", None), "path_sections", None) or {}
    apps = [a for a in getattr(tree, "apps", {}).values() if isinstance(a, Application)]
    for section, all_entries in sections.items():
        # Keys without a namespace are the application's own values, left alone.
        entries = [key for key in all_entries if isinstance(key, str) and "." in key]
        for app in apps:
            own = (getattr(app, "config", None) or {}).get(section)
            if isinstance(own, dict) and all(key in own for key in entries):
                break
        else:
            if not entries:
                continue
            first = entries[0]
            raise ConfigError(
                f"[{section}] {first}: this section came with the global config "
                "(cherrypy.config.update), which applies [global] only, and no mounted "
                "application has it, so its keys would do nothing; pass the config to "
                "tree.mount(root, script_name, config) too (quickstart() does)"
            )


def _check_unprotected_mounts(tree: Any) -> None:
    """A security tool turned on in the global config, with a mount that is not a
    CherryPy application (a grafted WSGI application, a ``tree.serve_dir`` directory):
    tools run only for applications (as in CherryPy), so that mount would be served
    without the protection the config asks for."""
    site_config = getattr(context.site, "config", None) or {}
    on = [name for name in SECURITY_TOOLS if site_config.get(f"tools.{name}.on")]
    if not on:
        return
    for script_name, app in getattr(tree, "apps", {}).items():
        if not isinstance(app, Application):
            raise ConfigError(
                f"[global]: tools.{on[0]}.on: tools run only for CherryPy applications, "
                f"and {app!r} mounted at {script_name or '/'!r} is not one (a WSGI "
                "graft or a static directory), so it would be served without that "
                "protection; protect it another way (its own middleware, a reverse "
                "proxy) or mount it elsewhere, and turn the tool on in the applications' "
                "config instead of [global]"
            )


def _check_app_global_section(app: Any, label: str) -> None:
    """An application config's ``[global]`` section is applied by
    ``cherrypy.config.update`` (``quickstart`` does it), never by ``tree.mount``
    (as in CherryPy): a key of it that never reached the global config would do
    nothing."""
    section = getattr(app, "config", {}).get("global")
    if not isinstance(section, dict):
        return
    site_config = getattr(context.site, "config", None) or {}
    # The application's own values (``my_key``, ``db.host``) may be read from
    # app.config["global"]; a key of a namespace someone handles is meant to apply.
    handled = known_namespaces(app) | _SITE_NAMESPACES
    for key, value in section.items():
        if isinstance(value, dict) or key in site_config or not isinstance(key, str):
            continue
        if key.split(".", 1)[0] not in handled or "." not in key:
            continue
        raise ConfigError(
            f"{label}, section [global]: {key}: an application's [global] section is not "
            "applied by tree.mount() (as in CherryPy), so the key would do nothing; pass "
            "the same config to cherrypy.config.update() too (quickstart() does), or move "
            "the key to the application's [/] section"
        )


def _check_classes(app: Any, label: str) -> None:
    """``app.request_class`` / ``response_class`` other than cherrypy_rs's own: the
    request path builds its own objects and would never use them."""
    if isinstance(app, Application) and type(app).__call__ is not Application.__call__:
        raise ConfigError(
            f"{label}: {type(app).__name__}.__call__ overrides the application's WSGI "
            "entry, which the server never calls (it serves the application natively); "
            "put WSGI middleware in app.wsgiapp.pipeline (or wsgi.pipeline in [/]) instead"
        )
    for attr, default in (("request_class", Request), ("response_class", Response)):
        cls = getattr(app, attr, default)
        if cls is not default:
            raise ConfigError(
                f"{label}: app.{attr} = {cls!r}: cherrypy_rs builds its own "
                f"{attr.split('_')[0]} objects and would not use this class (its methods, "
                "attributes and namespaces would do nothing); remove it, declare "
                f"attributes on cherrypy._cprequest.{default.__name__} itself, and "
                "register request namespaces in cherrypy._cprequest.Request.namespaces"
            )


def _app_level_namespaces(app: Any) -> set[str]:
    """Namespaces applied once, from the application's ``[/]`` section, at mount
    (``log``, ``wsgi``, ``app.namespaces``), and not per request."""
    names = {"log", "wsgi"} | set(getattr(app, "namespaces", {}) or {})
    per_request = set(getattr(app, "toolboxes", {}) or {"tools": None})
    per_request |= {"request", "response", "hooks", "error_page"}
    per_request |= set(getattr(Request, "namespaces", {}) or {})
    return names - per_request


def _refuse_app_level_key(where: str, key: str, ns: str) -> None:
    if ns == "log":
        raise ConfigError(
            f"{where}: {key}: log.* keys are site-wide (one log for the process), and "
            "only read from the [global] section, so here the key would do nothing; move "
            "it to [global] (cherrypy.config.update)"
        )
    raise ConfigError(
        f"{where}: {key}: the {ns!r} namespace is the application's: as in CherryPy, "
        "it is read once from the application's [/] section (at mount), so here the key "
        "would do nothing; move it to the [/] section"
    )


#: The pipeline entries of CherryPy's ``CPWSGIApp`` that cherrypy_rs builds into its
#: request handler, with the arguments it honours (``wsgi.<name>.<arg>``).
BUILTIN_WSGI_ENTRIES: dict[str, frozenset[str]] = {
    "InternalRedirector": frozenset({"recursive"}),
}


def _check_wsgi_config(app: Any, where: str) -> None:
    """``wsgi.<name>.<arg>`` for a pipeline entry that is not there (at start: the
    pipeline may be given in code after the config)."""
    wsgiapp = getattr(app, "wsgiapp", None)
    config = getattr(wsgiapp, "config", None)
    if not isinstance(config, dict):
        return
    factories = dict(getattr(wsgiapp, "pipeline", ()) or ())
    names = list(factories)
    for name, args in config.items():
        if name in factories:
            _check_factory_arguments(where, name, factories[name], args)
            continue
        first = f"wsgi.{name}.{next(iter(args), '')}"
        builtin = BUILTIN_WSGI_ENTRIES.get(name)
        if builtin is not None:
            extra = sorted(set(args) - builtin)
            if not extra:
                continue
            raise ConfigError(
                f"{where}: wsgi.{name}.{extra[0]}: cherrypy_rs's {name} takes only "
                f"{', '.join(sorted(builtin))}; remove the key"
            )
        if name == "ExceptionTrapper":
            raise ConfigError(
                f"{where}: {first}: cherrypy_rs has no ExceptionTrapper middleware to "
                "configure (an error escaping the application always gets CherryPy's bare "
                "500; KeyboardInterrupt and SystemExit stop the server); remove the key"
            )
        raise ConfigError(
            f"{where}: {first}: there is no wsgi.pipeline entry named {name!r}"
            f"{_suggest(name, names)}, so the key would do nothing (the pipeline has "
            f"{', '.join(map(repr, names)) or 'no entry'}); fix the name or add "
            f"({name!r}, factory) to wsgi.pipeline"
        )


def _check_factory_arguments(where: str, name: str, factory: Any, args: dict[str, Any]) -> None:
    """``wsgi.<name>.<arg>`` keys the middleware factory does not take (a TypeError
    at the first request otherwise)."""
    if accepts_any_keyword(factory):
        return
    accepted = set(_arg_names(factory)[1:])  # the first is the next WSGI app
    for arg in args:
        if arg not in accepted:
            raise ConfigError(
                f"{where}: wsgi.{name}.{arg}: the pipeline entry {name!r} ({factory!r}) "
                f"takes no argument {arg!r}{_suggest(arg, accepted)}; it takes "
                f"{', '.join(sorted(accepted)) or 'none'}"
            )


def _check_global_namespaces(known: set[str]) -> None:
    """Keys of the global config in a namespace nobody handles that are surely a
    mistake: a misspelt namespace (``tool.auth_basic.on``), ``cherrypy.`` in front of
    one, an engine plugin without ``engine.``. Other namespaces are left alone: the
    global config also holds an application's own dotted values."""
    config = getattr(context.site, "config", None) or {}
    known = known | _SITE_NAMESPACES
    engine = getattr(context.site, "engine", None)
    for key, value in config.items():
        if not isinstance(key, str) or "." not in key or isinstance(value, dict):
            continue
        ns, rest = key.split(".", 1)
        if ns in known:
            continue
        head = rest.split(".", 1)[0]
        hint = ""
        if ns == "cherrypy" and head in known:
            hint = f"write {rest!r} (no 'cherrypy.')"
        elif rest.endswith(".on") and rest.count(".") == 1 and hasattr(tools, head):
            hint = f"{head!r} is a tool: did you mean 'tools.{rest}'?"
        elif engine is not None and hasattr(getattr(engine, ns, None), "subscribe"):
            hint = f"{ns!r} is an engine plugin: did you mean 'engine.{key}'?"
        else:
            # Lazy: difflib costs ~0.2 MiB per process; only a misspelt key needs it.
            import difflib

            close = difflib.get_close_matches(ns, sorted(known), n=1, cutoff=0.85)
            if close:
                hint = f"did you mean '{close[0]}.{rest}'?"
        if hint:
            raise ConfigError(
                f"[global]: {key}: no handler for the {ns!r} namespace, so the key would "
                f"do nothing; {hint} (a namespace of your own: declare it with "
                f"cherrypy.checker.extra_config_namespaces.append({ns!r}))"
            )


def _check_session_auth(places: list[tuple[str, dict[str, Any]]]) -> None:
    """``tools.session_auth`` keeps the login in ``cherrypy.session``: with
    ``tools.sessions`` on nowhere (global config, the application's sections, its
    ``_cp_config``), every request of those pages would be a 500. Where sessions are on
    for some paths only, the per-request error names the fix."""
    site_config = getattr(context.site, "config", None) or {}
    if site_config.get("tools.sessions.on"):
        return
    if any(entries.get("tools.sessions.on") for _, entries in places):
        return
    for where, entries in places:
        if entries.get("tools.session_auth.on"):
            raise ConfigError(
                f"{where}: tools.session_auth.on: session_auth keeps the user name in "
                "cherrypy.session, but tools.sessions is on nowhere; add "
                "'tools.sessions.on': True to the same section (or [global])"
            )


# -- server.* types --------------------------------------------------------------------

_INT = (int,)
_NUMBER = (int, float)
_STR = (str,)

#: The type each server.* key needs (None is accepted where the default is None).
_SERVER_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "socket_port": (_INT, "an int"),
    "socket_timeout": (_NUMBER, "a number of seconds"),
    "max_request_header_size": (_INT, "an int (bytes)"),
    "max_request_body_size": (_INT, "an int (bytes)"),
    "shutdown_timeout": (_NUMBER, "a number of seconds"),
    "thread_pool": (_INT, "an int"),
    "accepted_queue_size": (_INT, "an int"),
    "accepted_queue_timeout": (_NUMBER, "a number of seconds"),
    "socket_queue_size": (_INT, "an int"),
    "io_threads": (_INT, "an int"),
    "max_headers": (_INT, "an int"),
    "http2_max_concurrent_streams": (_INT, "an int"),
    "socket_host": (_STR, "a str (an address or host name)"),
    "socket_file": (_STR, "a str (a path) or None"),
    "ssl_module": (_STR, "a str"),
    "ssl_certificate": (_STR, "a str (a PEM file name) or None"),
    "ssl_private_key": (_STR, "a str (a PEM file name) or None"),
    "ssl_certificate_chain": (_STR, "a str (a PEM file name) or None"),
    "ssl_client_ca": (_STR, "a str (a PEM file name) or None"),
    "ssl_verify_client": (_STR, "'none', 'optional' or 'required'"),
}

_NULLABLE = {
    "socket_file",
    "ssl_certificate",
    "ssl_private_key",
    "ssl_certificate_chain",
    "ssl_client_ca",
    "ssl_module",
    "ssl_verify_client",
}


def check_server_value(
    key: str, value: Any, types: dict[str, tuple[tuple[type, ...], str]] | None = None
) -> None:
    """Raise ConfigError when ``server.<key>`` has a value of the wrong type."""
    table = _SERVER_TYPES if types is None else types
    spec = table.get(key)
    if spec is None:
        return
    allowed, what = spec
    if value is None and key in _NULLABLE:
        return
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise ConfigError(f"server.{key} = {value!r} ({type(value).__name__}): it must be {what}")
