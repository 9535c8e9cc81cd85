"""Worker processes (``--workers``): a real master and real workers on 127.0.0.1,
driven by real signals; every process is stopped by PID and checked gone in /proc."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import ROOT, Proc, get

#: What tests/apps/workers_app.py's /slow prints when it starts.
SLOW_STARTED = "slow request started"

WSGI = "tests.apps.workers_app:app"
STARTED = re.compile(r"Worker (\d+) \(#\d+\) started")
SERVING = re.compile(r"Worker (\d+) \(#\d+\) is serving")
DIED = re.compile(r"Worker (\d+) \(#\d+\) (?:exited|was killed)")


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def until(predicate, timeout: float = 10.0, step: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


class Master(Proc):
    """A master process; its workers are read from its log lines."""

    def started(self) -> list[int]:
        return [int(p) for p in STARTED.findall(self.output())]

    def serving(self) -> set[int]:
        """Workers that said they serve and have not died since."""
        out = self.output()
        dead = {int(p) for p in DIED.findall(out)}
        return {int(p) for p in SERVING.findall(out)} - dead

    def wait_serving(self, n: int, timeout: float = 15.0) -> set[int]:
        def ready() -> set[int] | None:
            if self.popen.poll() is not None:
                raise AssertionError(f"the master exited:\n{self.output()}")
            pids = self.serving()
            return pids if len(pids) == n else None

        return until(ready, timeout)

    def port(self) -> int:
        match = until(lambda: re.search(r"Listening at http://127\.0\.0\.1:(\d+)", self.output()))
        return int(match.group(1))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        for pid in self.started():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        super().stop()

    def leftovers(self) -> list[int]:
        return [pid for pid in self.started() if alive(pid)]


class ScriptMaster(Master):
    """A master started by a Python script (``quickstart`` with ``server.workers``)."""

    def __init__(self, script: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, script],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()


def master(procs: list, *args: str) -> Master:
    proc = Master("wsgi", WSGI, "--bind", "127.0.0.1:0", *args)
    procs.append(proc)
    return proc


class Load:
    """Threads sending requests on fresh connections until stopped."""

    def __init__(self, port: int, threads: int = 2, path: str = "/") -> None:
        self.port = port
        self.path = path
        self.ok = 0
        self.failures: list[str] = []
        self.pids: list[int] = []
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                status, body = get(self.port, self.path)
            except OSError as exc:
                self.failures.append(repr(exc))
                continue
            if status == 200:
                self.ok += 1
                self.pids.append(int(body.split()[0]))
            else:
                self.failures.append(str(status))

    def stop(self) -> None:
        self.done.set()
        for t in self.threads:
            t.join(timeout=15)


def test_workers_serve_and_sigterm_stops_them_all(procs: list) -> None:
    proc = master(procs, "--workers", "2")
    workers = proc.wait_serving(2)
    port = proc.port()
    seen = set()
    for _ in range(40):
        status, body = get(port)
        pid, multiprocess, _uid = body.decode().split()
        assert status == 200 and multiprocess == "True"
        seen.add(int(pid))
    assert seen <= workers
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0
    assert until(lambda: not proc.leftovers(), 5)
    assert "Master" in proc.output() and "exiting (status 0)" in proc.output()


def test_kill_9_of_a_worker_under_load_is_replaced_within_a_second(procs: list) -> None:
    proc = master(procs, "--workers", "2")
    before = proc.wait_serving(2)
    load = Load(proc.port(), threads=2)
    try:
        until(lambda: load.ok > 20)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        replaced = until(lambda: (proc.serving() - before) or None, timeout=5, step=0.01)
        assert time.monotonic() - killed < 1.0, proc.output()
        new = replaced.pop()
        served = load.ok
        until(lambda: load.ok > served + 20)
    finally:
        load.stop()
    # At most the requests in flight on the killed worker fail (one per load thread).
    assert len(load.failures) <= 2, load.failures
    assert f"Worker {victim} (#1) was killed by SIGKILL" in proc.output()
    assert f"Worker {victim} is replaced" in proc.output()
    assert alive(new)


def test_sighup_under_load_replaces_every_worker_without_a_failed_request(procs: list) -> None:
    proc = master(procs, "--workers", "2", "--threads", "2")
    before = proc.wait_serving(2)
    load = Load(proc.port(), threads=3)
    try:
        until(lambda: load.ok > 30)
        proc.popen.send_signal(signal.SIGHUP)
        after = until(lambda: (s := proc.serving()) and not (s & before) and len(s) == 2 and s)
        until(lambda: not any(alive(p) for p in before))
        served = load.ok
        until(lambda: load.ok > served + 30)
    finally:
        load.stop()
    assert load.failures == []
    assert not (after & before)
    assert set(load.pids[-10:]) <= after


def test_sigterm_lets_slow_requests_in_flight_finish(procs: list) -> None:
    proc = master(procs, "--workers", "2", "--threads", "4")
    proc.wait_serving(2)
    port = proc.port()
    results: list[object] = []

    def slow() -> None:
        try:
            results.append(get(port, "/slow?1")[0])
        except OSError as exc:
            results.append(exc)

    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    proc.wait_for(SLOW_STARTED, 4)
    proc.popen.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=15)
    assert results == [200, 200, 200, 200]
    assert proc.popen.wait(timeout=15) == 0
    assert until(lambda: not proc.leftovers(), 5)


def test_sigint_is_a_quick_stop(procs: list) -> None:
    proc = master(procs, "--workers", "2")
    proc.wait_serving(2)
    proc.popen.send_signal(signal.SIGINT)
    assert proc.popen.wait(timeout=5) == 0
    assert until(lambda: not proc.leftovers(), 5)


def test_ttin_and_ttou_add_and_remove_a_worker(procs: list) -> None:
    proc = master(procs, "--workers", "1")
    proc.wait_serving(1)
    proc.popen.send_signal(signal.SIGTTIN)
    proc.wait_serving(2)
    proc.popen.send_signal(signal.SIGTTOU)
    proc.wait_serving(1)


def test_max_requests_replaces_the_worker_gracefully(procs: list) -> None:
    proc = master(procs, "--workers", "1", "--max-requests", "10", "--max-requests-jitter", "2")
    first = proc.wait_serving(1)
    load = Load(proc.port(), threads=2)
    try:
        until(lambda: len(set(load.pids)) >= 3, timeout=20)
    finally:
        load.stop()
    assert load.failures == []
    assert first.pop() in load.pids
    assert "reached --max-requests" in proc.output()


def test_max_lifetime_replaces_the_worker(procs: list) -> None:
    proc = master(procs, "--workers", "1", "--max-lifetime", "1", "--max-lifetime-jitter", "0.5")
    first = proc.wait_serving(1)
    until(lambda: proc.serving() - first, timeout=10)
    assert "reached --max-lifetime" in proc.output()


def test_timeout_replaces_a_worker_whose_threads_are_all_stuck(procs: list) -> None:
    proc = master(procs, "--workers", "1", "--threads", "1", "--timeout", "1")
    first = proc.wait_serving(1)
    port = proc.port()
    hung = threading.Thread(target=lambda: _ignore(lambda: get(port, "/hang")), daemon=True)
    hung.start()
    replaced = until(lambda: proc.serving() - first, timeout=10)
    assert "timed out" in proc.output()
    assert get(port)[1].split()[0] == str(replaced.pop()).encode()


def _ignore(call) -> None:  # type: ignore[no-untyped-def]
    try:
        call()
    except OSError:
        pass


def test_preload_serves(procs: list) -> None:
    proc = master(procs, "--workers", "2", "--preload")
    proc.wait_serving(2)
    assert get(proc.port())[0] == 200


def test_run_and_static_take_workers(procs: list, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("static via workers")
    static = Master("static", str(tmp_path), "--bind", "127.0.0.1:0", "--workers", "2")
    procs.append(static)
    static.wait_serving(2)
    assert get(static.port(), "/a.txt") == (200, b"static via workers")
    run = Master("run", "tests.apps.cli_app:Root", "--bind", "127.0.0.1:0", "--workers", "2")
    procs.append(run)
    run.wait_serving(2)
    assert get(run.port()) == (200, b"cli app")


def test_server_workers_in_config(procs: list, tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("[global]\nserver.workers = 2\n")
    proc = master(procs, "--config", str(conf))
    proc.wait_serving(2)


def test_access_log_of_all_workers_has_whole_lines(procs: list, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    proc = master(procs, "--workers", "2", "--access-log", str(log))
    proc.wait_serving(2)
    load = Load(proc.port(), threads=4)
    try:
        until(lambda: load.ok > 300, timeout=30)
    finally:
        load.stop()
    proc.stop()
    lines = log.read_text().splitlines()
    assert len(lines) == load.ok
    assert all(
        re.fullmatch(r'127\.0\.0\.1 - - \[.+\] "GET / HTTP/1\.1" 200 \d+ .*', x) for x in lines
    )


def test_daemon_and_pid_file(tmp_path: Path) -> None:
    pidfile = tmp_path / "server.pid"
    port = _free_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cherrypy_rs",
            "wsgi",
            WSGI,
            "--bind",
            f"127.0.0.1:{port}",
            "--daemon",
            "--pid",
            str(pidfile),
            "--error-log",
            str(tmp_path / "error.log"),
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    pid = until(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pid)
    try:
        assert until(lambda: _try_get(port))
        assert os.getsid(pid) != os.getsid(0)  # a session of its own: detached
    finally:
        os.kill(pid, signal.SIGTERM)
    until(lambda: not alive(pid))
    assert not pidfile.exists()
    log = (tmp_path / "error.log").read_text()
    workers = [int(p) for p in STARTED.findall(log)]
    assert workers and not any(alive(p) for p in workers)
    # Each line once (the log file is also the daemon's stderr), the first one with the
    # daemon's own PID (not the one it had before forking).
    lines = log.splitlines()
    assert len(lines) == len(set(lines)), log
    assert lines[0].endswith(f"(master {pid})"), lines[0]


def _try_get(port: int) -> bool:
    try:
        return get(port)[0] == 200
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_workers_drop_privileges_when_started_as_root(procs: list) -> None:
    proc = master(procs, "--workers", "1", "--user", "nobody", "--group", "65534")
    (worker,) = proc.wait_serving(1)
    assert get(proc.port())[1].split()[2] == b"65534"
    with open(f"/proc/{worker}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["65534"] * 4
    assert os.stat(f"/proc/{proc.popen.pid}").st_uid == 0  # the master stays root


def test_autoreload_serves_a_changed_module_within_3_seconds(procs: list, tmp_path: Path) -> None:
    module = tmp_path / "reloaded_app.py"
    module.write_text(_reloaded_app("one"))
    # One process re-executes itself (so it binds again: a fixed port); a master
    # keeps its socket and replaces its workers.
    for mode in ((), ("--workers", "1")):
        proc = (Master if mode else Proc)(
            "wsgi",
            "reloaded_app:app",
            "--bind",
            f"127.0.0.1:{_free_port()}",
            "--reload",
            "--chdir",
            str(tmp_path),
            *mode,
        )
        procs.append(proc)
        port = proc.wait_port()
        assert get(port) == (200, b"one")
        module.write_text(_reloaded_app("two"))
        # A later mtime, whatever the filesystem's resolution (no waiting for the clock).
        later = module.stat().st_mtime + 2
        os.utime(module, (later, later))
        changed = time.monotonic()
        until(lambda port=port: _body(port) == b"two", timeout=5)
        assert time.monotonic() - changed < 3.0
        proc.stop()
        module.write_text(_reloaded_app("one"))


def _body(port: int) -> bytes | None:
    try:
        return get(port)[1]
    except OSError:
        return None


def _reloaded_app(text: str) -> str:
    return (
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        f"    return [b{text!r}]\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workers", "0"), "--workers 0: the number of workers must be at least 1"),
        (("--workers", "-2"), "--workers -2: the number of workers must be at least 1"),
        (("--user", "no-such-user-x"), "user 'no-such-user-x': no such user"),
        (("--group", "no-such-group-x"), "group 'no-such-group-x': no such group"),
        (("--pid", "/nonexistent-dir/x.pid"), "the directory '/nonexistent-dir' does not exist"),
        (("--pid", "/sys/x.pid"), "PID file '/sys/x.pid' cannot be written"),
        (("--max-requests", "-1"), "--max-requests -1: must be at least 0"),
    ],
)
def test_bad_process_options_are_clear_errors(args: tuple[str, ...], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cherrypy_rs", "wsgi", WSGI, "--bind", "127.0.0.1:0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Worker" not in done.stderr


def test_a_pid_file_naming_a_live_process_is_refused(tmp_path: Path) -> None:
    pidfile = tmp_path / "other.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # this test process: alive
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cherrypy_rs",
            "wsgi",
            WSGI,
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--pid",
            str(pidfile),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert f"names process {os.getpid()}, which is running" in done.stderr
    assert pidfile.read_text() == f"{os.getpid()}\n"


def test_port_in_use_with_workers(procs: list) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cherrypy_rs",
                "wsgi",
                WSGI,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert f"port {port} is already in use" in done.stderr
    assert "Worker" not in done.stderr


def test_an_app_that_fails_to_import_stops_the_master(procs: list) -> None:
    proc = Master("wsgi", "tests.apps.broken_app:app", "--bind", "127.0.0.1:0", "--workers", "3")
    procs.append(proc)
    assert proc.popen.wait(timeout=20) == 1
    out = proc.output()
    assert "broken_app cannot be imported on purpose" in out
    assert "failed to boot" in out
    assert until(lambda: not proc.leftovers(), 5)
    # One failure is enough: the master does not spin respawning.
    assert len(proc.started()) <= 3


def test_a_reload_with_code_that_fails_to_import_keeps_the_old_workers(
    procs: list, tmp_path: Path
) -> None:
    module = tmp_path / "reloaded_app.py"
    module.write_text(_reloaded_app("one"))
    proc = Master(
        "wsgi",
        "reloaded_app:app",
        "--bind",
        "127.0.0.1:0",
        "--chdir",
        str(tmp_path),
        "--workers",
        "2",
    )
    procs.append(proc)
    before = proc.wait_serving(2)
    port = proc.port()
    module.write_text("raise RuntimeError('the new code is broken')\n")
    proc.popen.send_signal(signal.SIGHUP)
    until(lambda: "the reload is cancelled" in proc.output())
    until(
        lambda: len(proc.started()) >= 4 and not any(alive(p) for p in set(proc.started()) - before)
    )
    assert proc.serving() == before
    assert get(port) == (200, b"one")
    assert proc.popen.poll() is None


def test_sigusr1_runs_engine_graceful_in_every_worker(procs: list) -> None:
    proc = master(procs, "--workers", "2")
    before = proc.wait_serving(2)
    proc.popen.send_signal(signal.SIGUSR1)
    until(lambda: len(re.findall(r"ENGINE \d+ Bus graceful", proc.output())) == 2)
    assert proc.serving() == before
    assert get(proc.port())[0] == 200


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_one_process_drops_privileges_after_binding(procs: list) -> None:
    proc = Proc("wsgi", WSGI, "--bind", "127.0.0.1:0", "--user", "nobody", "--umask", "0o027")
    procs.append(proc)
    port = proc.wait_port()
    # The engine drops privileges after the server has bound (and logged "Serving on").
    until(lambda: "Running as uid 65534" in proc.output())
    assert get(port)[1].split()[2] == b"65534"


def test_sigint_during_a_graceful_stop_makes_it_quick(procs: list) -> None:
    proc = master(procs, "--workers", "1", "--threads", "2")
    proc.wait_serving(1)
    port = proc.port()
    hung = threading.Thread(target=lambda: _ignore(lambda: get(port, "/slow?20")), daemon=True)
    hung.start()
    proc.wait_for(SLOW_STARTED)
    proc.popen.send_signal(signal.SIGTERM)
    until(lambda: "stopping gracefully" in proc.output())
    proc.popen.send_signal(signal.SIGINT)
    assert proc.popen.wait(timeout=5) == 0
    assert until(lambda: not proc.leftovers(), 5)


def test_workers_of_a_killed_master_exit_by_themselves(procs: list) -> None:
    proc = master(procs, "--workers", "2")
    workers = proc.wait_serving(2)
    proc.popen.kill()
    proc.popen.wait(timeout=5)
    # Each worker sees its master gone within a second and stops gracefully.
    until(lambda: not any(alive(p) for p in workers), timeout=5)


def test_quickstart_with_server_workers_forks_a_master(procs: list, tmp_path: Path) -> None:
    port = _free_port()
    script = tmp_path / "qs.py"
    script.write_text(
        "import os\n"
        "import cherrypy_rs as cherrypy\n"
        "class Root:\n"
        "    @cherrypy.expose\n"
        "    def index(self):\n"
        "        return str(os.getpid())\n"
        "cherrypy.quickstart(Root(), '/', {'global': {'server.workers': 2,\n"
        f"    'server.socket_host': '127.0.0.1', 'server.socket_port': {port}}}}})\n"
    )
    proc = ScriptMaster(str(script))
    procs.append(proc)
    workers = proc.wait_serving(2)
    assert int(get(port)[1]) in workers
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=15) == 0
    assert until(lambda: not proc.leftovers(), 5)


def test_reuse_port_gives_each_worker_its_own_socket(procs: list) -> None:
    proc = master(procs, "--workers", "2", "--reuse-port")
    workers = proc.wait_serving(2)
    port = proc.port()
    seen: set[int] = set()
    for _ in range(200):
        seen.add(int(get(port)[1].split()[0]))
        if seen == workers:
            break
    # The kernel spreads new connections over the workers' sockets by their addresses.
    assert seen == workers
    assert len(_listening_sockets(port)) == 2  # one per worker; the master's only reserves
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    until(lambda: len(proc.serving() - workers) == 1)
    assert get(port)[0] == 200


def _listening_sockets(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on 127.0.0.1:port (from /proc/net/tcp)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                inodes.add(inode)
    return inodes


def test_without_reuse_port_the_workers_share_one_socket(procs: list) -> None:
    proc = master(procs, "--workers", "2")
    proc.wait_serving(2)
    assert len(_listening_sockets(proc.port())) == 1


def test_max_requests_counts_static_files_served_by_rust(procs: list, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("static")
    proc = Master(
        "static", str(tmp_path), "--bind", "127.0.0.1:0", "--workers", "1", "--max-requests", "5"
    )
    procs.append(proc)
    first = proc.wait_serving(1)
    port = proc.port()
    for _ in range(8):
        assert get(port) == (200, b"static")
    until(lambda: proc.serving() - first)
    assert "reached --max-requests" in proc.output()


def test_requests_served_counts_every_answer(serve_app: Any) -> None:
    import cherrypy_rs

    class Root:
        @cherrypy_rs.expose
        def index(self) -> str:
            return "x"

    live = serve_app(Root())
    for path in ("/", "/", "/missing"):
        live.get(path)
    assert live.server.core.requests_served == 3
