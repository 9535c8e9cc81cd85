"""CherryPy's test helper (``cherrypy.test.helper``) on the cherrypy_rs server.

``CPWebCase`` is a ``webtest.WebCase`` whose class setup serves the application under
test in this process::

    from cherrypy.test import helper   # cherrypy_rs.test.helper

    class RootTest(helper.CPWebCase):
        @staticmethod
        def setup_server():
            cherrypy.tree.mount(Root())

        def test_index(self):
            self.getPage("/")
            self.assertBody("Hello")

``setup_class`` resets the global config to the ``test_suite`` environment, gives
``cherrypy.tree`` a fresh tree, calls ``setup_server`` (when the class has one), mounts
a garbage-collection page at ``/gc`` and starts the engine, which starts the server on
127.0.0.1. The port is chosen by the OS (port 0): once bound it is written back to
``cherrypy.server.socket_port`` (so an engine restart within the class binds it again)
and to ``PORT`` (of ``webtest.WebCase``, as CherryPy's ``setup_client`` does, and of the
class). ``teardown_class`` exits the engine, which stops the server. The port is bound
before ``setup_server`` runs, so ``cherrypy.url()`` called there names it.

A class without ``setup_server`` starts nothing; its ``PORT`` is a port that was free
when the class was set up (for tests that start a server process themselves with
``CPProcess``).

Differences from CherryPy: only the cherrypy_rs server exists, so the ``wsgi`` and
``native`` supervisors are the same; ``scheme = "https"`` is not set up automatically;
the engine's signal handler is not subscribed in the test process (a test runner's
SIGTERM stops the runner, not only the engine).
"""

from __future__ import annotations

import datetime
import gc
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any

import pytest

import cherrypy_rs as cherrypy

from .. import _core
from ..errors import get_error_page
from ..lib.httputil import urljoin
from . import webtest
from .webtest import WebCase  # noqa: F401 - importable from here, as in CherryPy

#: The directory of the test package (CherryPy's tests find their data next to it).
thisdir = os.path.abspath(os.path.dirname(__file__))


class Supervisor:
    """Describes a server under test: the keyword arguments become attributes."""

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, int(value) if key == "port" else value)


class LocalSupervisor(Supervisor):
    """A server in this process, started and stopped with ``cherrypy.engine``."""

    using_apache = False
    using_wsgi = False
    host = "127.0.0.1"
    port = 0
    scheme = "http"
    protocol = "HTTP/1.1"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cherrypy.config.update({"log.screen": False})

    def start(self, modulename: str | None = None) -> None:
        """Start the engine (and so the server), then ``sync_apps``."""
        cherrypy.engine.start()
        self.sync_apps()

    def sync_apps(self) -> None:
        """Hook for supervisors that must hand the mounted apps to their server; the
        cherrypy_rs server follows ``cherrypy.tree`` by itself."""

    def stop(self) -> None:
        """Call ``self.teardown`` when set, then exit the engine (stops the server)."""
        teardown = getattr(self, "teardown", None)
        if teardown:
            teardown()
        cherrypy.engine.exit()

    def __str__(self) -> str:
        return f"cherrypy_rs server on {self.host}:{self.port}"


class NativeServerSupervisor(LocalSupervisor):
    """CherryPy's native-server supervisor: here the cherrypy_rs server."""


class LocalWSGISupervisor(LocalSupervisor):
    """CherryPy's WSGI-server supervisor: here the cherrypy_rs server too (it serves
    CherryPy applications natively and WSGI callables grafted on the tree)."""

    using_wsgi = True

    def get_app(self, app: Any = None) -> Any:
        """The WSGI application the server would serve (the tree by default)."""
        return cherrypy.tree if app is None else app


def get_wsgi_u_supervisor(**options: Any) -> LocalSupervisor:
    return LocalWSGISupervisor(**options)


def _reset_tree() -> None:
    """Empty ``cherrypy.tree`` before ``setup_server`` mounts the class's applications
    (CherryPy's helper gives it a new ``Tree``; emptying it keeps the server, which
    serves this tree, in step)."""
    cherrypy.tree.apps.clear()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (for a server another process
    will start; a server in this process binds port 0 instead)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _GCRoot:
    """The ``/gc`` application: ``/gc/stats`` collects garbage and reports objects the
    collector could not free (``gc.garbage``) under the line ``Statistics:``."""

    @cherrypy.expose
    def stats(self) -> str:
        for _ in range(3):
            gc.collect()
        counts: dict[str, int] = {}
        for obj in gc.garbage:
            name = type(obj).__name__
            counts[name] = counts.get(name, 0) + 1
        lines = ["Statistics:"]
        lines.extend(f"    {count} uncollectable {name}" for name, count in sorted(counts.items()))
        return "\n".join(lines)


def setup_client() -> None:
    """Point ``webtest.WebCase`` (and so every test case) at the server's address."""
    host, port = cherrypy.server.bound_addr or cherrypy.server.bind_addr
    webtest.WebCase.HOST = host
    webtest.WebCase.PORT = port
    if cherrypy.server.ssl_certificate:
        CPWebCase.scheme = "https"


class CPWebCase(webtest.WebCase):
    """A ``WebCase`` that serves the class's ``setup_server`` applications on a live
    cherrypy_rs server for the duration of the class."""

    script_name = ""
    scheme = "http"

    available_servers: dict[str, Any] = {
        "wsgi": LocalWSGISupervisor,
        "wsgi_u": get_wsgi_u_supervisor,
        "native": NativeServerSupervisor,
    }
    default_server = "wsgi"
    supervisor: Any = None

    #: True once ``setup_server`` has run: ``test_gc`` then requests ``/gc/stats``.
    do_gc_test = False
    #: ``assertEqualDates`` tolerance in seconds.
    date_tolerance = 2

    @classmethod
    def _setup_server(cls, supervisor: Any, conf: dict[str, Any]) -> dict[str, Any]:
        """The global config for the test server: ``conf`` plus the address and the
        ``test_suite`` environment."""
        cherrypy.server.using_apache = supervisor.using_apache
        cherrypy.server.using_wsgi = supervisor.using_wsgi
        baseconf = {k: v for k, v in conf.items() if "." in k}
        baseconf.update(
            {
                "server.socket_host": supervisor.host,
                "server.socket_port": supervisor.port,
                "server.protocol_version": supervisor.protocol,
                "environment": "test_suite",
            }
        )
        return baseconf

    @classmethod
    def setup_class(cls) -> None:
        """Reset the config and the tree, run ``setup_server`` and start the engine."""
        factory = cls.available_servers.get(cls.default_server)
        if factory is None:
            raise RuntimeError(f"Unknown server in config: {cls.default_server}")
        if cherrypy.engine.state in (
            cherrypy.engine.states.STARTING,
            cherrypy.engine.states.STARTED,
        ):
            # A previous class left it running (its teardown failed): start afresh.
            cherrypy.engine.exit()
        supervisor = factory(
            scheme="http", protocol="HTTP/1.1", port=0, host="127.0.0.1", validate=False
        )
        reserved: Any = None
        setup_server = getattr(cls, "setup_server", None)
        if setup_server is not None:
            # The port is known before setup_server runs (``cherrypy.url()`` outside a
            # request gives it, as with CherryPy's fixed test port): a socket bound to
            # port 0 now, which the first start serves (no other process can take it).
            reserved = _core.Listener(supervisor.host, 0)
            supervisor.port = reserved.address[1]
        cherrypy.config.reset()
        cherrypy.config.update(cls._setup_server(supervisor, {}))
        cls.supervisor = supervisor
        if setup_server is not None:
            try:
                _reset_tree()
                setup_server()
                cherrypy.tree.mount(_GCRoot(), "/gc")
                cls.do_gc_test = True
                server = cherrypy.server
                address = (server.socket_host, server.socket_port)
                if address == (supervisor.host, supervisor.port) and not server.socket_file:
                    server.listener = reserved
                supervisor.start(cls.__module__)
            finally:
                # Later starts (an engine restart in a test) bind the port by number.
                cherrypy.server.listener = None
                reserved.close()
            # Keep the bound port (setup_server may have asked for another one).
            _host, port = cherrypy.server.bound_addr or cherrypy.server.bind_addr
            cherrypy.server.socket_port = port
            supervisor.port = port
        else:
            cherrypy.server.socket_port = supervisor.port = free_port(supervisor.host)
        setup_client()
        cls.HOST = webtest.WebCase.HOST
        cls.PORT = webtest.WebCase.PORT

    @classmethod
    def teardown_class(cls) -> None:
        """Exit the engine started by ``setup_class``."""
        if hasattr(cls, "setup_server") and cls.supervisor is not None:
            cls.supervisor.stop()

    def test_gc(self) -> None:
        """The server answers ``/gc/stats`` after the class's tests (CherryPy's
        refleak check; the statistics themselves are informative only)."""
        if not self.do_gc_test:
            return
        # /gc is mounted at the root, whatever the class's script_name.
        webtest.WebCase.getPage(self, "/gc/stats")
        self.assertStatus(200)
        self.assertInBody("Statistics:")

    def prefix(self) -> str:
        """``script_name`` without its trailing slash."""
        return self.script_name.rstrip("/")

    def base(self) -> str:
        """The absolute URL of the application: scheme, host, port and script name."""
        default = (self.scheme == "http" and self.PORT == 80) or (
            self.scheme == "https" and self.PORT == 443
        )
        port = "" if default else f":{self.PORT}"
        return f"{self.scheme}://{self.HOST}{port}{self.script_name.rstrip('/')}"

    def exit(self) -> None:
        raise SystemExit

    def getPage(self, url: Any, *args: Any, **kwargs: Any) -> Any:
        """``WebCase.getPage`` with ``url`` below ``script_name``."""
        if self.script_name:
            if isinstance(url, bytes):
                url = url.decode("utf-8")
            url = urljoin(self.script_name, url)
        return webtest.WebCase.getPage(self, url, *args, **kwargs)

    def skip(self, msg: str = "skipped ") -> None:
        pytest.skip(msg)

    def assertErrorPage(
        self, status: Any, message: str | None = None, pattern: str | None = ""
    ) -> None:
        """Fail unless the body is CherryPy's error page for ``status`` (and
        ``message``). ``pattern`` must occur in the page's traceback; ``None`` means
        the page must have no traceback."""
        page = get_error_page(status, message=message)
        if isinstance(page, str):
            page = page.encode("utf-8")
        empty = b'<pre id="traceback"></pre>'
        before, found, after = page.partition(empty)
        if found:
            regex = re.escape(before) + b'<pre id="traceback">(.*)</pre>' + re.escape(after)
        else:
            regex = re.escape(page)
        match = re.match(regex, self.body, re.DOTALL)
        if match is None:
            self._handlewebError("Error page does not match; expected:\n" + page.decode("utf-8"))
            return
        tb = match.group(1) if match.groups() else b""
        if pattern is None:
            if tb:
                self._handlewebError("Error page contains traceback")
        elif not re.search(re.escape(pattern).encode(self.encoding), tb):
            self._handlewebError(f"Error page does not contain {pattern!r} in traceback")

    def assertEqualDates(
        self, dt1: datetime.datetime, dt2: datetime.datetime, seconds: float | None = None
    ) -> None:
        """Fail unless the two datetimes are within ``seconds`` (``date_tolerance``)."""
        limit = self.date_tolerance if seconds is None else seconds
        if not abs(dt1 - dt2) < datetime.timedelta(seconds=limit):
            raise AssertionError(f"{dt1!r} and {dt2!r} are not within {limit!r} seconds.")


def _test_method_sorter(_loader: Any, x: str, y: str) -> int:
    """Test methods in name order, with ``test_gc`` last (as CherryPy's helper sorts
    them, for unittest and pytest alike)."""
    if x == y:
        return 0
    if x == "test_gc":
        return 1
    if y == "test_gc":
        return -1
    return 1 if x > y else -1


unittest.TestLoader.sortTestMethodsUsing = _test_method_sorter  # type: ignore[assignment]


# ------------------------------------------------------------------ server processes


def _spawn_command() -> list[str]:
    """The interpreter command that runs cherryd in a child process with the same
    ``cherrypy`` alias and test-package path as this process."""
    args = [sys.executable, "-m", "cherrypy_rs.test._spawn"]
    if sys.modules.get("cherrypy") is cherrypy:
        args.append("--alias-cherrypy")
    # The package's own directory first, then those a runner added (CherryPy's suite).
    test_path = sys.modules[__name__.rpartition(".")[0]].__path__
    for entry in list(test_path)[1:]:
        args += ["--test-path", entry]
    return args


class CPProcess:
    """A cherrypy_rs server in a child process, run like CherryPy's ``cherryd``
    (``-c`` config, ``-p`` PID file, ``-i`` imports, ``-d`` daemonize).

    Its files (config, PID file, logs) are in a directory of their own: the directory
    named by ``$CHERRYPY_RS_TEST_TMP`` when set (a test runner then finds the PID files
    of daemons it must stop), else a new temporary directory.
    """

    config_template = """[global]
server.socket_host: '%(host)s'
server.socket_port: %(port)s
checker.on: False
log.screen: False
log.error_file: r'%(error_log)s'
log.access_file: r'%(access_log)s'
%(ssl)s
%(extra)s
"""

    def __init__(
        self,
        wait: bool = False,
        daemonize: bool = False,
        ssl: bool = False,
        socket_host: str | None = None,
        socket_port: int | None = None,
    ) -> None:
        self.wait = wait
        self.daemonize = daemonize
        self.ssl = ssl
        self.host = socket_host or cherrypy.server.socket_host
        self.port = socket_port or cherrypy.server.socket_port or free_port(self.host)
        base = os.environ.get("CHERRYPY_RS_TEST_TMP") or None
        self.dir = tempfile.mkdtemp(prefix="cpprocess-", dir=base)
        self.pid_file = os.path.join(self.dir, "test.pid")
        self.config_file = os.path.join(self.dir, "test.conf")
        self.error_log = os.path.join(self.dir, "test.error.log")
        self.access_log = os.path.join(self.dir, "test.access.log")
        self.exit_code: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def write_conf(self, extra: str = "") -> None:
        """Write the child's config file (``extra`` lines are appended to [global])."""
        ssl = ""
        if self.ssl:
            pem = os.path.join(thisdir, "test.pem")
            ssl = f"server.ssl_certificate: r'{pem}'\nserver.ssl_private_key: r'{pem}'\n"
        text = self.config_template % {
            "host": self.host,
            "port": self.port,
            "error_log": self.error_log,
            "access_log": self.access_log,
            "ssl": ssl,
            "extra": extra,
        }
        with open(self.config_file, "w", encoding="utf-8") as f:
            f.write(text)

    def start(self, imports: Any = None, timeout: float = 10.0) -> None:
        """Start the child; unless ``wait``, return once it accepts connections."""
        args = [*_spawn_command(), "-c", self.config_file, "-p", self.pid_file]
        if not isinstance(imports, (list, tuple)):
            imports = [imports]
        for name in imports:
            if name:
                args += ["-i", name]
        if self.daemonize:
            args.append("-d")
        self._proc = subprocess.Popen(args)
        if self.wait:
            self.exit_code = self._proc.wait(timeout=60)
        if self.daemonize:
            self._wait_for_pid_file(timeout)
        if not self.wait or self.daemonize:
            self._wait_for_port(timeout)
            self._wait_for_started(timeout)

    def _wait_for_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        addr = (webtest.interface(self.host), int(self.port))
        while time.monotonic() < deadline:
            if self._proc is not None and not self.daemonize and self._proc.poll() is not None:
                return  # it exited (a start error): the test looks at why
            try:
                with socket.create_connection(addr, timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"the server process did not listen on {addr} in {timeout}s")

    def _wait_for_started(self, timeout: float) -> None:
        """Wait until the child's engine logged "Bus STARTED" in its error log: the
        server listens before the start listeners of lower priority have all run
        (CherryPy's helper sleeps a second instead)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and not self.daemonize and self._proc.poll() is not None:
                return
            try:
                with open(self.error_log, "rb") as f:
                    if b"ENGINE Bus STARTED" in f.read():
                        return
            except OSError:
                pass
            time.sleep(0.05)

    def _wait_for_pid_file(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.pid_file, "rb") as f:
                    if f.read().strip():
                        return
            except OSError:
                pass
            time.sleep(0.05)

    def get_pid(self) -> int:
        """The server's process id (the daemon's, read from the PID file)."""
        if self.daemonize:
            with open(self.pid_file, "rb") as f:
                return int(f.read())
        assert self._proc is not None, "start() the process first"
        return self._proc.pid

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the server process to exit; after ``timeout`` seconds kill it and
        raise ``subprocess.TimeoutExpired``."""
        if self.daemonize:
            self._join_daemon(timeout)
            return
        if self._proc is not None:
            try:
                self.exit_code = self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # It did not stop: kill it, so that it does not hold the port for the
                # next test, and fail this one.
                self._proc.kill()
                self._proc.wait(timeout=timeout)
                raise

    def _join_daemon(self, timeout: float) -> None:
        try:
            pid = self.get_pid()
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                return
            time.sleep(0.05)
