"""The bus (``cherrypy_rs.process.wspbus``) and the plugins, side by side with CherryPy's
own: the same scenario runs on both buses and must give the same calls."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cherrypy.process.plugins as cp_plugins
import cherrypy.process.wspbus as cp_wspbus
import pytest

import cherrypy_rs
from cherrypy_rs.process import plugins, wspbus
from tests.test_cli import Proc, get

BUSES = [
    pytest.param((wspbus, plugins), id="cherrypy_rs"),
    pytest.param((cp_wspbus, cp_plugins), id="cherrypy"),
]


_BUSES: list[Any] = []


def quiet(bus: Any) -> Any:
    """A bus that logs nothing, exited after the test (CherryPy's warns at process exit
    about a bus that never reached EXITING)."""
    bus.listeners["log"] = set()
    _BUSES.append(bus)
    return bus


@pytest.fixture(autouse=True)
def _exit_buses() -> Any:
    yield
    while _BUSES:
        bus = _BUSES.pop()
        if bus.state != bus.states.EXITING:
            bus.exit()


@pytest.mark.parametrize("impl", BUSES)
def test_priorities_order_the_listeners(impl: Any) -> None:
    bus = quiet(impl[0].Bus())
    calls: list[str] = []
    bus.subscribe("start", lambda: calls.append("late"), priority=90)
    bus.subscribe("start", lambda: calls.append("early"), priority=10)
    bus.subscribe("start", lambda: calls.append("default"))
    bus.subscribe("custom", lambda x: calls.append(f"custom {x}"))
    bus.start()
    assert bus.state == bus.states.STARTED
    assert bus.publish("custom", 1) == [None]
    assert bus.publish("nobody-listens") == []
    bus.stop()
    assert bus.state == bus.states.STOPPED
    assert calls == ["early", "default", "late", "custom 1"]


@pytest.mark.parametrize("impl", BUSES)
def test_a_failing_listener_does_not_stop_the_others(impl: Any) -> None:
    bus = quiet(impl[0].Bus())
    calls: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    bus.subscribe("graceful", boom, priority=10)
    bus.subscribe("graceful", lambda: calls.append("after"), priority=20)
    with pytest.raises(impl[0].ChannelFailures) as info:
        bus.graceful()
    assert calls == ["after"]
    (exc,) = info.value.get_instances()
    assert isinstance(exc, ValueError)
    assert "boom" in str(info.value)


def test_a_failing_start_exits_the_bus() -> None:
    # CherryPy's bus exits the bus too, then ends the process (os._exit(70)) because
    # exit() ran while STARTING; cherrypy_rs raises instead, so that quickstart() and
    # the command line report the error and exit with status 1.
    bus = quiet(wspbus.Bus())
    calls: list[str] = []

    def boom() -> None:
        raise RuntimeError("cannot start")

    bus.subscribe("start", boom)
    bus.subscribe("stop", lambda: calls.append("stop"))
    bus.subscribe("exit", lambda: calls.append("exit"))
    with pytest.raises(wspbus.ChannelFailures):
        bus.start()
    assert bus.state == bus.states.EXITING
    assert calls == ["stop", "exit"]


@pytest.mark.parametrize("impl", BUSES)
def test_unsubscribe_and_wait(impl: Any) -> None:
    bus = quiet(impl[0].Bus())
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    bus.subscribe("main", listener)
    bus.unsubscribe("main", listener)
    bus.publish("main")
    assert calls == []
    threading.Timer(0.1, bus.start).start()
    bus.wait(bus.states.STARTED, interval=0.01)
    assert bus.state == bus.states.STARTED
    bus.exit()


@pytest.mark.parametrize("impl", BUSES)
def test_start_with_callback_runs_once_started(impl: Any) -> None:
    bus = quiet(impl[0].Bus())
    states: list[Any] = []
    thread = bus.start_with_callback(lambda x: states.append((x, bus.state)), args=(7,))
    thread.join(timeout=5)
    assert states == [(7, bus.states.STARTED)]
    assert thread.name.startswith("Bus Callback")
    bus.exit()


@pytest.mark.parametrize("impl", BUSES)
def test_simple_plugin_subscribes_its_channel_methods(impl: Any) -> None:
    wspbus_mod, plugins_mod = impl
    bus = quiet(wspbus_mod.Bus())
    calls: list[str] = []

    class Plugin(plugins_mod.SimplePlugin):
        def start(self) -> None:
            calls.append("start")

        def stop(self) -> None:
            calls.append("stop")

    plugin = Plugin(bus)
    plugin.subscribe()
    bus.start()
    bus.stop()
    plugin.unsubscribe()
    bus.start()
    bus.exit()
    assert calls == ["start", "stop"]


@pytest.mark.parametrize("impl", BUSES)
def test_thread_manager_numbers_threads(impl: Any) -> None:
    wspbus_mod, plugins_mod = impl
    bus = quiet(wspbus_mod.Bus())
    for channel in ("acquire_thread", "release_thread", "start_thread", "stop_thread"):
        bus.listeners.setdefault(channel, set())
    manager = plugins_mod.ThreadManager(bus)
    manager.subscribe()
    events: list[tuple[str, int]] = []
    bus.subscribe("start_thread", lambda i: events.append(("start", i)))
    bus.subscribe("stop_thread", lambda i: events.append(("stop", i)))

    def serve() -> None:
        bus.publish("acquire_thread")
        bus.publish("acquire_thread")  # once per thread
        bus.publish("release_thread")

    for _ in range(2):
        t = threading.Thread(target=serve)
        t.start()
        t.join()
    assert events == [("start", 1), ("stop", 1), ("start", 1), ("stop", 1)]


@pytest.mark.parametrize("impl", BUSES)
def test_monitor_calls_back_while_started(impl: Any) -> None:
    wspbus_mod, plugins_mod = impl
    bus = quiet(wspbus_mod.Bus())
    ticks: list[float] = []
    monitor = plugins_mod.Monitor(bus, lambda: ticks.append(time.monotonic()), frequency=0.02)
    monitor.subscribe()
    bus.start()
    deadline = time.monotonic() + 5
    while len(ticks) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    bus.exit()
    count = len(ticks)
    time.sleep(0.1)
    assert 3 <= count == len(ticks)
    assert monitor.thread is None


@pytest.mark.parametrize("impl", BUSES)
def test_pidfile_is_written_at_start_and_removed_at_exit(impl: Any, tmp_path: Path) -> None:
    wspbus_mod, plugins_mod = impl
    bus = quiet(wspbus_mod.Bus())
    pidfile = tmp_path / "x.pid"
    plugins_mod.PIDFile(bus, str(pidfile)).subscribe()
    bus.start()
    assert pidfile.read_text().strip() == str(os.getpid())
    bus.exit()
    assert not pidfile.exists()


@pytest.mark.parametrize("impl", BUSES)
def test_drop_privileges_resolves_names(impl: Any) -> None:
    plugins_mod = impl[1]
    bus = quiet(impl[0].Bus())
    drop = plugins_mod.DropPrivileges(bus, uid="nobody", gid="nogroup", umask=0o022)
    assert (drop.uid, drop.gid) == (65534, 65534)


def test_drop_privileges_names_an_unknown_user() -> None:
    with pytest.raises(ValueError, match="user 'no-such-user-x': no such user"):
        plugins.DropPrivileges(wspbus.Bus(), uid="no-such-user-x")


def test_engine_config_turns_plugins_on_and_sets_attributes(restore_config: None) -> None:
    engine = cherrypy_rs.engine
    assert not engine.autoreload.subscribed
    try:
        cherrypy_rs.config.update({"engine.autoreload.frequency": 3})
        cherrypy_rs.config.update({"engine.autoreload.on": True})
        assert engine.autoreload.subscribed and engine.autoreload.frequency == 3
        assert engine.autoreload.start in engine.listeners["start"]
        cherrypy_rs.config.update({"engine.autoreload.on": False})
        assert engine.autoreload.start not in engine.listeners["start"]
    finally:
        engine.autoreload.unsubscribe()
        engine.autoreload.frequency = 1
    with pytest.raises(ValueError, match=r"engine\.nosuch\.on: the engine has no plugin"):
        cherrypy_rs.config.update({"engine.nosuch.on": True})


def test_module_paths_are_cherrypys() -> None:
    from cherrypy_rs import process

    assert process.bus is cherrypy_rs.engine
    assert isinstance(cherrypy_rs.server, process.servers.ServerAdapter)
    for name in (
        "SimplePlugin",
        "SignalHandler",
        "Daemonizer",
        "PIDFile",
        "DropPrivileges",
        "Autoreloader",
        "Monitor",
        "BackgroundTask",
        "ThreadManager",
    ):
        assert hasattr(process.plugins, name), name
    assert isinstance(cherrypy_rs.engine.signal_handler, plugins.SignalHandler)


def server_on_bus(bus: Any, root: Any, thread_pool: int) -> Any:
    """A server for ``root`` on 127.0.0.1:0, subscribed to ``bus`` (started with it)."""
    from cherrypy_rs._server import Server
    from cherrypy_rs._tree import Tree

    tree = Tree()
    tree.mount(root, "")
    server = Server()
    server.tree, server.global_config, server.log_error = tree, {}, cherrypy_rs.log.error
    server.access_log_screen = False
    server.settings.update(socket_host="127.0.0.1", socket_port=0, thread_pool=thread_pool)
    server.subscribe(bus)
    return server


def test_worker_threads_acquire_at_their_first_request() -> None:
    # CherryPy's ThreadManager numbers the threads that served a request since the last
    # start or graceful: idle workers publish nothing.
    bus = wspbus.Bus()
    plugins.ThreadManager(bus).subscribe()
    events: list[tuple[str, int]] = []
    bus.subscribe("start_thread", lambda i: events.append(("start", i)))
    bus.subscribe("stop_thread", lambda i: events.append(("stop", i)))

    class Root:
        @cherrypy_rs.expose
        def index(self) -> str:
            return "ok"

    server = server_on_bus(bus, Root(), thread_pool=3)
    bus.start()
    try:
        assert events == []
        assert get(server.bound_addr[1], "/") == (200, b"ok")
        assert events == [("start", 1)]
        for _ in range(5):
            assert get(server.bound_addr[1], "/") == (200, b"ok")
        started = sorted(events)
        assert 1 <= len(started) <= 3
        assert started == [("start", i) for i in range(1, len(started) + 1)]
        events.clear()
        bus.graceful()
        assert sorted(events) == [("stop", i) for i in range(1, len(started) + 1)]
        events.clear()
        assert get(server.bound_addr[1], "/") == (200, b"ok")
        assert events == [("start", 1)]
        events.clear()
    finally:
        bus.exit()
    assert ("stop", 1) in events and all(kind == "stop" for kind, _ in events)


def test_sigusr1_is_a_graceful_reload_and_sighup_too_when_not_daemonized(
    procs: list,
) -> None:
    proc = Proc("run", "tests.apps.cli_app:Root", "--bind", "127.0.0.1:0")
    procs.append(proc)
    port = proc.wait_port()
    for signum in (signal.SIGUSR1, signal.SIGHUP):
        proc.popen.send_signal(signum)
        deadline = time.monotonic() + 5
        while proc.output().count("Bus graceful") < (1 if signum == signal.SIGUSR1 else 2):
            assert time.monotonic() < deadline, proc.output()
            time.sleep(0.02)
    assert get(port) == (200, b"cli app")
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=10) == 0


def test_extra_servers_and_repeated_binds(procs: list, tmp_path: Path) -> None:
    conf = tmp_path / "two.conf"
    conf.write_text(
        "[global]\nserver.second.socket_host = '127.0.0.1'\nserver.second.socket_port = 0\n"
    )
    proc = Proc(
        "run",
        "tests.apps.cli_app:Root",
        "--bind",
        "127.0.0.1:0",
        "--bind",
        "127.0.0.1:0",
        "--config",
        str(conf),
    )
    procs.append(proc)
    proc.wait_port()
    deadline = time.monotonic() + 10
    while len(re.findall(r"Serving on http://127\.0\.0\.1:(\d+)", proc.output())) < 3:
        assert time.monotonic() < deadline, proc.output()
        time.sleep(0.02)
    ports = {int(p) for p in re.findall(r"Serving on http://127\.0\.0\.1:(\d+)", proc.output())}
    assert len(ports) == 3
    for port in ports:
        assert get(port) == (200, b"cli app")


def test_cherryd_options(procs: list, tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_text("[global]\nserver.socket_host = '127.0.0.1'\nserver.socket_port = 0\n")
    pidfile = tmp_path / "cherryd.pid"
    proc = Proc(
        "-P",
        "tests/apps",
        "-i",
        "cherryd_app",
        "-c",
        str(conf),
        "-e",
        "staging",
        "-p",
        str(pidfile),
    )
    procs.append(proc)
    port = proc.wait_port()
    assert get(port) == (200, b"mounted by an import")
    assert pidfile.read_text().strip() == str(proc.popen.pid)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=10) == 0
    assert not pidfile.exists()


def test_cherrypy_alias_gives_the_same_modules() -> None:
    # In a fresh interpreter: sys.modules is process-wide.
    code = (
        "import sys, cherrypy_rs\n"
        "sys.modules['cherrypy'] = cherrypy_rs\n"
        "import cherrypy.process.plugins, cherrypy.process.wspbus, cherrypy.process.servers\n"
        "from cherrypy.process import plugins\n"
        "assert plugins is cherrypy_rs.process.plugins\n"
        "assert isinstance(cherrypy_rs.engine, cherrypy.process.wspbus.Bus)\n"
        "assert isinstance(cherrypy_rs.server, cherrypy.process.servers.ServerAdapter)\n"
        "assert cherrypy.process.plugins.__spec__.name == 'cherrypy_rs.process.plugins'\n"
        "import threading; assert threading.active_count() == 1\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_engine_sighup_config_replaces_the_listener(procs: list, tmp_path: Path) -> None:
    (tmp_path / "hup_app.py").write_text(
        "import cherrypy_rs as cherrypy\n"
        "def on_hup():\n"
        "    cherrypy.log('custom SIGHUP listener')\n"
        "class Root:\n"
        "    @cherrypy.expose\n"
        "    def index(self):\n"
        "        return 'hup'\n"
        "cherrypy.config.update({'engine.SIGHUP': on_hup})\n"
    )
    proc = Proc("run", "hup_app:Root", "--bind", "127.0.0.1:0", "--chdir", str(tmp_path))
    procs.append(proc)
    port = proc.wait_port()
    proc.popen.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "custom SIGHUP listener" not in proc.output():
        assert time.monotonic() < deadline, proc.output()
        time.sleep(0.02)
    assert "Bus graceful" not in proc.output()
    assert get(port) == (200, b"hup")


def test_cherryd_daemonizes_with_a_pid_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.test_cli import ROOT
    from tests.test_workers import _free_port, _try_get, alive, until

    port = _free_port()
    conf = tmp_path / "site.conf"
    conf.write_text(f"[global]\nserver.socket_host = '127.0.0.1'\nserver.socket_port = {port}\n")
    pidfile = tmp_path / "daemon.pid"
    cherryd = ["-P", "tests/apps", "-i", "cherryd_app", "-c", str(conf), "-d"]
    done = subprocess.run(
        [sys.executable, "-m", "cherrypy_rs", *cherryd, "-p", str(pidfile)],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    pid = int(until(lambda: pidfile.exists() and pidfile.read_text().strip()))
    try:
        until(lambda: _try_get(port))
        assert os.getsid(pid) != os.getsid(0)
    finally:
        os.kill(pid, signal.SIGTERM)
    until(lambda: not alive(pid))
    assert not pidfile.exists()


def test_an_extra_https_server_next_to_http(procs: list, tmp_path: Path, tls_files: Any) -> None:
    import ssl
    import urllib.request

    conf = tmp_path / "both.conf"
    conf.write_text(
        "[global]\n"
        "server.https.socket_host = '127.0.0.1'\n"
        "server.https.socket_port = 0\n"
        f"server.https.ssl_certificate = {tls_files.cert!r}\n"
        f"server.https.ssl_private_key = {tls_files.key!r}\n"
    )
    proc = Proc("run", "tests.apps.cli_app:Root", "--bind", "127.0.0.1:0", "--config", str(conf))
    procs.append(proc)
    http_port = proc.wait_port()
    deadline = time.monotonic() + 10
    while not (match := re.search(r"Serving on https://127\.0\.0\.1:(\d+)", proc.output())):
        assert time.monotonic() < deadline, proc.output()
        time.sleep(0.02)
    assert get(http_port) == (200, b"cli app")
    context = ssl.create_default_context(cafile=tls_files.ca_file)
    with urllib.request.urlopen(f"https://127.0.0.1:{match.group(1)}/", context=context) as r:
        assert r.read() == b"cli app"


def test_autoreloader_skips_modules_without_a_file(tmp_path: Path) -> None:
    source = tmp_path / "watched_mod.py"
    source.write_text("X = 1\n")
    fileless = type(sys)("cprs_fileless_mod")
    fileless.__file__ = None  # type: ignore[assignment]
    with_file = type(sys)("cprs_watched_mod")
    with_file.__file__ = str(source) + "c"  # a .pyc path names its source
    assert plugins.Autoreloader._file_for_file_module(fileless) is None
    sys.modules["cprs_fileless_mod"] = fileless
    sys.modules["cprs_watched_mod"] = with_file
    try:
        reloader = plugins.Autoreloader(wspbus.Bus(), match="cprs_")
        assert reloader.sysfiles() == {str(source)}
    finally:
        del sys.modules["cprs_fileless_mod"], sys.modules["cprs_watched_mod"]


def test_httpserver_interrupt_exits_the_engine() -> None:
    # cheroot's idiom: ``cherrypy.server.httpserver.interrupt = KeyboardInterrupt``.
    from cherrypy_rs._server import Server
    from cherrypy_rs._tree import Tree

    bus = wspbus.Bus()
    stopped: list[bool] = []
    bus.subscribe("stop", lambda: stopped.append(True))

    class Root:
        @cherrypy_rs.expose
        def index(self) -> str:
            return "ok"

    tree = Tree()
    tree.mount(Root(), "")
    server = Server()
    server.tree, server.global_config, server.log_error = tree, {}, cherrypy_rs.log.error
    server.access_log_screen = False
    server.settings.update(socket_host="127.0.0.1", socket_port=0, thread_pool=2)
    server.subscribe(bus)
    bus.start()
    try:
        handle = server.httpserver
        assert handle is not None and handle.interrupt is None
        port = server.bound_addr[1]
        assert handle.bound_address == server.core.bound_address  # the Rust server's
        assert get(port, "/") == (200, b"ok")
        handle.interrupt = KeyboardInterrupt
        bus.block(interval=0.05)
        assert bus.state is wspbus.states.EXITING and stopped == [True]
        assert server.httpserver is None and server.interrupted is KeyboardInterrupt
        with pytest.raises(OSError):
            get(port, "/")
    finally:
        if bus.state is not wspbus.states.EXITING:
            bus.exit()


def test_safe_wait_warns_only_on_a_wildcard_host() -> None:
    from cherrypy_rs.process import servers

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def connect() -> None:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()

    with pytest.warns(UserWarning, match="Unable to verify that the server is bound on "):
        with servers._safe_wait("0.0.0.0", port):
            connect()
    with pytest.raises(OSError), servers._safe_wait("127.0.0.1", port):
        connect()
