"""cherrypy_rs: CherryPy's programming model on a Rust HTTP server.

Use it as CherryPy::

    import cherrypy_rs as cherrypy

    class Root:
        @cherrypy.expose
        def index(self):
            return "Hello, world!"

    cherrypy.quickstart(Root(), "/", {"global": {"server.socket_port": 8080}})

Importing the package starts nothing: threads, sockets and signal handlers start with
``engine.start()`` / ``quickstart()``.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, cast

from . import _engine, _log, config_check, context, lib
from . import dispatch as _cpdispatch
from ._config import Config
from ._core import __version__ as __core_version__
from ._engine import ChannelFailures, Engine
from ._log import LogManager
from ._server import Server
from ._staticroutes import check_application
from ._tree import Application, Tree
from .checker import Checker
from .context import _ContextProxy
from .default_tools import tools
from .errors import (
    CHERRYPY_VERSION,
    CherryPyException,
    HTTPError,
    HTTPRedirect,
    InternalRedirect,
    NotFound,
    TimeoutError,
)
from .helper import expose, popargs, url
from .lib.sessions import SessionProxy
from .lib.sessions import check_application as _check_sessions
from .toolbox import Tool

if TYPE_CHECKING:
    from .objects import Request, Response

__version__ = __core_version__

__all__ = [
    "Application",
    "ChannelFailures",
    "CherryPyException",
    "HTTPError",
    "HTTPRedirect",
    "InternalRedirect",
    "NotFound",
    "TimeoutError",
    "Tool",
    "__version__",
    "checker",
    "config",
    "dispatch",
    "engine",
    "expose",
    "lib",
    "log",
    "popargs",
    "process",
    "quickstart",
    "request",
    "response",
    "server",
    "serving",
    "session",
    "thread_data",
    "tools",
    "tree",
    "url",
]

#: ``cherrypy.serving``: the request context (``serving.request``, ``serving.response``).
serving = context
sys.modules[f"{__name__}.serving"] = context

dispatch = _cpdispatch

#: The current request and response (only inside a request). Proxies at run time; typed
#: as the objects they forward to, so that editors and type checkers know their attributes.
request = cast("Request", _ContextProxy(0, "request"))
response = cast("Response", _ContextProxy(1, "response"))
#: The current request's session (``tools.sessions.on``), dict-like.
session: Any = SessionProxy()


class _ThreadData(threading.local):
    """A container for thread-specific data (``cherrypy.thread_data``)."""


#: Per-thread attributes, e.g. a database connection opened by a ``start_thread``
#: listener for each worker thread (CherryPy's idiom).
thread_data: Any = _ThreadData()

config = Config()
tree = Tree()
engine = Engine()
server = Server()
log = LogManager()

log.screen = True
server.tree = tree
server.global_config = config
server.log_error = log.error
server.subscribe(engine)
context.site.config = config
context.site.server = server
context.site.tree = tree
context.site.engine = engine
context.site.log = log
Tree.mount_checks.append(check_application)
Tree.mount_checks.append(_check_sessions)
Tree.mount_checks.append(lambda app, script_name, _config: config_check.check_app(app, script_name))
# Again at start: app.merge() may have added sections since the mount.
Tree.start_checks.append(config_check.check_app)
Tree.start_checks.append(config_check.check_namespaces)
Tree.tree_checks.append(config_check.check_mounts)
config.checks.append(config_check.check_global)

#: ``cherrypy.checker``: warnings about suspicious config when the engine starts.
checker = Checker()
context.site.checker = checker


def _log_engine(msg: str, level: int = 20) -> None:
    log.error(msg, "ENGINE", severity=level)


def _apply_log_key(key: str, value: Any) -> None:
    log.apply(key, value)


def _access_outputs_set(manager: Any, name: str) -> None:
    """``cherrypy.log.screen`` / ``access_file`` set (by config or as an attribute):
    the server's access log uses it from its next start; while it serves, the Rust
    access log keeps the outputs it started with, which is said in the error log."""
    if manager is not log:
        return
    live = server.access_outputs()
    if name == "screen":
        value: Any = bool(manager.screen)
        server.access_log_screen = value
    else:
        value = getattr(manager, "access_file", "") or ""
        server.access_log_file = value
    if live is not None and live[0 if name == "screen" else 1] != value:
        log.error(
            f"cherrypy.log.{name} = {value!r} set while the server is serving: the access "
            "log keeps its outputs until the engine starts again (engine.restart())",
            "ENGINE",
            severity=30,
        )


def _check_live_log_keys(config: dict[str, Any]) -> None:
    """Refuse, in ``config.update``, a ``log.screen`` / ``log.access_file`` that would
    change the access log of a server that is serving (the Rust access log's outputs
    are fixed when it starts)."""
    live = server.access_outputs()
    if live is None:
        return
    for key, index, value in (
        ("log.screen", 0, bool(config.get("log.screen"))),
        ("log.access_file", 1, config.get("log.access_file") or ""),
    ):
        if key in config and live[index] != value:
            raise config_check.ConfigError(
                f"{key} = {config[key]!r} while the server is serving: the access log's "
                "outputs are fixed when the server starts, so it would not change; set it "
                "before engine.start(), or call engine.restart() after this update"
            )


def _apply_tree_key(key: str, value: Any) -> None:
    """``tree.<name> = app`` (or ``{script_name: app}``) mounts or grafts apps."""
    for script_name, app in value.items() if isinstance(value, dict) else [(None, value)]:
        if script_name is None and not hasattr(app, "script_name"):
            raise ValueError(
                f"tree.{key} = {app!r}: give a cherrypy.Application (mounted at its "
                "script_name) or a dict of script name -> application or WSGI callable"
            )
        if not (isinstance(app, Application) or callable(app)):
            raise ValueError(
                f"tree.{key}: {app!r} at {script_name!r} is neither a "
                "cherrypy.Application nor a WSGI callable"
            )
        name = app.script_name if script_name is None else script_name
        if isinstance(app, Application) and (name or "") == app.script_name:
            tree.mount(app, name)
        else:
            # As CherryPy: grafted at the given name (any WSGI callable).
            tree.graft(app, name or "")
        engine.log(f"Mounted: {app} on {name or '/'}")


_log.output_listeners.append(_access_outputs_set)
config.checks.append(_check_live_log_keys)
engine.subscribe("log", _log_engine)
engine.subscribe("start", checker, priority=45)
config.namespaces["server"] = server.apply
config.namespaces["tree"] = _apply_tree_key
config.namespaces["checker"] = checker.apply
config.namespaces["log"] = _apply_log_key
config.namespaces["engine"] = engine.apply
config.listeners.append(tree.clear_caches)


def quickstart(root: Any = None, script_name: str = "", config: Any = None) -> None:
    """Mount ``root`` at ``script_name``, start the engine and block until it exits.

    ``config`` (a dict or filename) updates the global config from its "global"
    section and becomes the application's config.
    """
    if config:
        globals()["config"].update(config)
    workers = server.process.get("workers", 1)
    if workers not in (None, 1):
        # server.workers: a master forks that many workers serving this application.
        # Lazy: the master process's machinery loads only when server.workers asks.
        from .master import quickstart_workers

        def mount() -> None:
            tree.mount(root, script_name, config)

        raise SystemExit(quickstart_workers(mount))
    tree.mount(root, script_name, config)
    status = _engine.run(engine)
    if status:
        # The engine has logged why: a traceback would add nothing.
        raise SystemExit(status)


context.site.quickstart = quickstart

from . import _aliases, _cpchecker, _cpcompat, _cptools, _cpwsgi, process  # noqa: E402, F401

# CherryPy's tests and some apps reach these as attributes (cherrypy._cptools.Tool).
from . import _cprequest as _cprequest  # noqa: E402

_aliases.install()

__cherrypy_version__ = CHERRYPY_VERSION
