"""The master process of ``cherrypy-rs ... --workers N`` (and of ``quickstart`` with
``server.workers``): it binds the sockets, forks the worker processes, replaces those
that die, reloads them one by one and stops them gracefully. ``run`` is the entry
point; ``Arbiter`` the supervision loop.

Design:

* **One listening socket, inherited.** The master binds every ``--bind`` address (a
  ``_core.Listener``: a socket held by Rust, bound before any runtime or thread exists),
  then forks; each worker serves a duplicate of it. The kernel's accept queue belongs to
  the socket, not to a worker, so a worker that stops accepting (reload, max-requests,
  SIGTERM) leaves the connections queued behind it to the others: a rolling reload
  loses nothing. (Per-worker ``SO_REUSEPORT`` sockets spread connections more evenly,
  but the connections queued on a socket whose worker exits are reset unless
  ``net.ipv4.tcp_migrate_req=1``; see docs/deployment.md.)
* **A pipe per worker** (worker → master) carries one-byte messages: ``R`` the server
  is started (the worker is *ready*), ``.`` a heartbeat, ``M`` max-requests reached
  (replace me), ``H`` a watched file changed (reload everyone, ``--reload``).
  The heartbeat stops when every Python worker thread has been busy on a request for
  longer than ``--timeout``; the master then kills the worker (SIGKILL) and starts
  another. A heartbeat thread that cannot run at all (the GIL held for good) stops the
  beat too.
* **Rolling replacement.** A worker to replace is marked *stale*; the master starts a
  new worker for each stale one and sends SIGTERM to a stale worker only once a new one
  is ready, so the number of serving workers never drops below ``--workers``.
* **Crash loops.** A worker that exits before it is ready failed to boot: at the first
  boot the master stops the others and exits with status 1 (the worker's error is on
  stderr); during a reload the reload is cancelled and the current workers go on
  serving. Workers that keep dying within a second of their start stop the master too.

Signals (as gunicorn): SIGTERM graceful stop (in-flight requests finish within
``--graceful-timeout``), SIGINT/SIGQUIT quick stop, SIGHUP rolling reload,
SIGTTIN/SIGTTOU one worker more/less; SIGUSR1 is passed on to the workers, whose
engines run ``graceful()`` (the TLS certificate is re-read). The master never starts
a thread or a runtime of its own, and never serves a request.
"""

from __future__ import annotations

import errno
import gc
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import cherrypy_rs

from .options import CLIError, Options, Settings, close_listeners
from .process import plugins

#: Exit status of a master whose workers cannot boot.
BOOT_ERROR = 1

#: A worker that was ready but died within this many seconds counts as a quick death;
#: this many quick deaths in a row stop the master.
QUICK_DEATH = 1.0
QUICK_DEATHS_MAX = 5


class Worker:
    """The master's record of one worker process."""

    def __init__(self, pid: int, pipe: int, number: int, lifetime: float) -> None:
        self.pid = pid
        self.pipe = pipe
        self.number = number
        self.born = time.monotonic()
        self.last_beat = self.born
        self.ready = False
        #: To be replaced: a new worker starts, then this one gets SIGTERM.
        self.stale = False
        #: SIGTERM sent; killed at ``kill_at`` if still alive.
        self.retiring = False
        self.kill_at = 0.0
        self.deadline = self.born + lifetime if lifetime > 0 else 0.0


class Arbiter:
    """Forks and supervises the workers. ``boot`` runs in each new worker (after the
    fork) and returns the started engine's server; ``log`` writes a master log line."""

    def __init__(
        self,
        settings: Settings,
        boot: Callable[[], Any],
        log: Callable[[str, int], None],
        on_exit: Callable[[], None] | None = None,
        reload: bool = False,
    ) -> None:
        self.settings = settings
        self.target = settings.workers
        self.boot = boot
        self.log = log
        self.on_exit = on_exit
        self.workers: dict[int, Worker] = {}
        self.signals: list[int] = []
        self.booted = False
        self.quick_deaths = 0
        self.numbers = 0
        self.exit_code: int | None = None
        self.stopping = False
        self.pid = os.getpid()
        self.reload = reload
        self._wake_r, self._wake_w = -1, -1
        #: In a worker: the write end of its pipe to the master.
        self.pipe = -1

    # -- the master loop -------------------------------------------------------------
    def run(self) -> int:
        """Start the workers and supervise them until stopped; returns the exit status."""
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wake_w)
        for signum in (
            signal.SIGTERM,
            signal.SIGINT,
            signal.SIGQUIT,
            signal.SIGHUP,
            signal.SIGTTIN,
            signal.SIGTTOU,
            signal.SIGUSR1,
            signal.SIGCHLD,
        ):
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        self.log(f"Master {self.pid} starting {self.target} worker(s)", 20)
        try:
            while self.exit_code is None:
                self._manage()
                self._wait(0.25)
                self._reap()
                self._handle_signals()
        except Exception:
            self.log("Master error:\n" + traceback.format_exc(), 40)
            self._stop(graceful=False)
            self.exit_code = 1
        finally:
            signal.set_wakeup_fd(-1)
            if self.on_exit is not None:
                self.on_exit()
        self.log(f"Master {self.pid} exiting (status {self.exit_code})", 20)
        return self.exit_code

    def _on_signal(self, signum: int, frame: Any) -> None:
        if signum != signal.SIGCHLD:
            self.signals.append(signum)

    def _wait(self, timeout: float) -> None:
        fds = [self._wake_r, *(w.pipe for w in self.workers.values())]
        try:
            readable, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return
        now = time.monotonic()
        for fd in readable:
            if fd == self._wake_r:
                self._drain(fd)
                continue
            worker = next((w for w in self.workers.values() if w.pipe == fd), None)
            if worker is not None:
                self._message(worker, self._drain(fd), now)

    @staticmethod
    def _drain(fd: int) -> bytes:
        data = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                return data
            except OSError:
                return data
            if not chunk:
                return data
            data += chunk

    def _message(self, worker: Worker, data: bytes, now: float) -> None:
        if not data:
            return
        worker.last_beat = now
        if b"R" in data and not worker.ready:
            worker.ready = True
            self.booted = True
            self.log(f"Worker {worker.pid} (#{worker.number}) is serving", 20)
        if b"M" in data and not worker.stale:
            self.log(f"Worker {worker.pid} reached --max-requests: replacing it", 20)
            worker.stale = True
        if b"H" in data and not worker.stale:
            # Every worker watches the same files: the first to tell makes the others
            # stale, and what they say after that is not news.
            self.log("A watched file changed: reloading the workers", 20)
            self._reload()

    def _handle_signals(self) -> None:
        while self.signals and self.exit_code is None:
            signum = self.signals.pop(0)
            name = signal.Signals(signum).name
            if signum == signal.SIGTERM:
                self.log(f"{name}: stopping gracefully", 20)
                self._stop(graceful=True)
                self.exit_code = 0
            elif signum in (signal.SIGINT, signal.SIGQUIT):
                self.log(f"{name}: quick stop", 20)
                self._stop(graceful=False)
                self.exit_code = 0
            elif signum == signal.SIGHUP:
                self.log(f"{name}: reloading the workers", 20)
                self._reload()
            elif signum == signal.SIGUSR1:
                self.log(f"{name}: engine.graceful() in every worker", 20)
                for worker in self.workers.values():
                    if not worker.retiring:
                        self._kill(worker.pid, signal.SIGUSR1)
            elif signum == signal.SIGTTIN:
                self.target += 1
                self.log(f"{name}: {self.target} worker(s)", 20)
            elif signum == signal.SIGTTOU:
                if self.target > 1:
                    self.target -= 1
                    active = sorted(self._active(), key=lambda w: w.born)
                    if len(active) > self.target:
                        self._retire(active[0])
                self.log(f"{name}: {self.target} worker(s)", 20)

    def _stop(self, graceful: bool) -> None:
        """Stop every worker: SIGTERM (in-flight requests finish within
        --graceful-timeout) or SIGQUIT (at once); SIGKILL for what is left after."""
        self.stopping = True
        signum = signal.SIGTERM if graceful else signal.SIGQUIT
        for worker in self.workers.values():
            worker.retiring = True
            self._kill(worker.pid, signum)
        limit = self.settings.graceful_timeout + 2 if graceful else 2.0
        deadline = time.monotonic() + limit
        while self.workers and time.monotonic() < deadline:
            self._wait(0.05)
            self._reap()
            if graceful and any(s in (signal.SIGINT, signal.SIGQUIT) for s in self.signals):
                # Ctrl-C during a graceful stop: do not wait for the requests.
                self.log("Quick stop requested: workers stop at once", 20)
                graceful = False
                for worker in self.workers.values():
                    self._kill(worker.pid, signal.SIGQUIT)
                deadline = min(deadline, time.monotonic() + 2.0)
        for worker in list(self.workers.values()):
            self.log(f"Worker {worker.pid} did not stop in {limit:g} s: killing it", 30)
            self._kill(worker.pid, signal.SIGKILL)
        while self.workers:
            self._wait(0.05)
            self._reap()

    def _reload(self) -> None:
        for worker in self.workers.values():
            if not worker.retiring:
                worker.stale = True

    # -- bookkeeping -------------------------------------------------------------------
    def _active(self) -> list[Worker]:
        return [w for w in self.workers.values() if not w.stale and not w.retiring]

    def _manage(self) -> None:
        """Start workers up to the target, retire stale ones whose replacement serves,
        kill the timed-out and the overdue."""
        now = time.monotonic()
        s = self.settings
        for worker in list(self.workers.values()):
            if worker.retiring:
                if now >= worker.kill_at:
                    self.log(
                        f"Worker {worker.pid} still running after --graceful-timeout: killing",
                        30,
                    )
                    self._kill(worker.pid, signal.SIGKILL)
                    worker.kill_at = now + 3600
                continue
            if worker.ready and worker.deadline and now >= worker.deadline and not worker.stale:
                self.log(f"Worker {worker.pid} reached --max-lifetime: replacing it", 20)
                worker.stale = True
            if s.timeout and worker.ready and now - worker.last_beat > s.timeout:
                self.log(
                    f"Worker {worker.pid} timed out (no heartbeat for {s.timeout:g} s: its "
                    "threads are all busy): killing it",
                    40,
                )
                self._kill(worker.pid, signal.SIGKILL)
                worker.retiring = True
                worker.kill_at = now + 3600
        while len(self._active()) < self.target:
            self._spawn()
        ready = sum(1 for w in self._active() if w.ready)
        stale = [w for w in self.workers.values() if w.stale and not w.retiring]
        stale.sort(key=lambda w: w.born)
        while stale and ready + len(stale) > self.target:
            self._retire(stale.pop(0))

    def _retire(self, worker: Worker) -> None:
        worker.stale = True
        worker.retiring = True
        worker.kill_at = time.monotonic() + self.settings.graceful_timeout + 5
        self.log(f"Worker {worker.pid} stopping gracefully", 20)
        self._kill(worker.pid, signal.SIGTERM)

    @staticmethod
    def _kill(pid: int, signum: int) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            os.close(worker.pipe)
            self._died(worker, status)

    def _died(self, worker: Worker, status: int) -> None:
        if os.WIFSIGNALED(status):
            how = f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            how = f"exited with status {os.waitstatus_to_exitcode(status)}"
        self.log(f"Worker {worker.pid} (#{worker.number}) {how}", 20 if worker.retiring else 30)
        if worker.retiring or self.stopping or self.exit_code is not None:
            return
        if not worker.ready:
            if any(w.stale and w.ready for w in self.workers.values()):
                self.log(
                    f"A new worker failed to boot ({how}): the reload is cancelled and the "
                    "current workers go on serving",
                    40,
                )
                for other in list(self.workers.values()):
                    if other.stale and not other.retiring:
                        other.stale = False
                    elif not other.ready and not other.retiring:
                        self._retire(other)
                return
            self.log(f"Worker {worker.pid} failed to boot ({how}): stopping", 40)
            self._stop(graceful=False)
            self.exit_code = BOOT_ERROR
            return
        if time.monotonic() - worker.born < QUICK_DEATH:
            self.quick_deaths += 1
            if self.quick_deaths >= QUICK_DEATHS_MAX:
                self.log(
                    f"Workers keep dying within {QUICK_DEATH:g} s of their start "
                    f"({self.quick_deaths} in a row): stopping",
                    40,
                )
                self._stop(graceful=False)
                self.exit_code = BOOT_ERROR
                return
        else:
            self.quick_deaths = 0
        self.log(f"Worker {worker.pid} is replaced", 20)

    def _spawn(self) -> None:
        s = self.settings
        self.numbers += 1
        # Lazy: random costs ~0.2 MiB per process; only a master with jitter needs it.
        import random

        lifetime = (
            s.max_lifetime + random.uniform(0, s.max_lifetime_jitter) if s.max_lifetime else 0
        )
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_end)
            code = 1
            try:
                code = self._worker_main(write_end)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write_end)
        os.set_blocking(read_end, False)
        worker = Worker(pid, read_end, self.numbers, lifetime)
        self.workers[pid] = worker
        self.log(f"Worker {pid} (#{worker.number}) started", 20)

    # -- in the worker ------------------------------------------------------------------
    def _worker_main(self, pipe: int) -> int:
        """Runs in the forked worker: boot the engine, report ready, beat, block."""
        signal.set_wakeup_fd(-1)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        for other in self.workers.values():
            os.close(other.pipe)
        self.workers = {}
        for signum in (
            signal.SIGHUP,
            signal.SIGINT,
            signal.SIGTTIN,
            signal.SIGTTOU,
            signal.SIGUSR1,
        ):
            signal.signal(signum, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGQUIT, _quick_exit)
        signal.signal(signal.SIGTERM, _graceful_exit)
        os.set_blocking(pipe, False)
        self.pipe = pipe
        master = self.pid
        s = self.settings
        engine, server = self.boot()
        # SIGUSR1 from the master: engine.graceful() (the TLS certificate is re-read).
        signal.signal(signal.SIGUSR1, lambda signum, frame: engine.graceful())
        limit = 0
        if s.max_requests:
            # Lazy: random costs ~0.2 MiB per process; only a master with jitter needs it.
            import random

            limit = s.max_requests + random.randint(0, max(0, s.max_requests_jitter))
        beat = Heartbeat(pipe, master, server, limit, s.timeout)
        beat.send(b"R")
        engine.subscribe("main", beat.tick)
        try:
            engine.block()
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0
        return 0

    def notify(self, message: bytes) -> None:
        """In a worker: send ``message`` to the master (``b"H"``: reload everyone)."""
        if self.pipe >= 0:
            try:
                os.write(self.pipe, message)
            except OSError:
                pass


class Heartbeat:
    """The worker's side of the pipe, run on the main thread from the engine's "main"
    channel (every 0.1 s while it blocks)."""

    def __init__(self, pipe: int, master: int, server: Any, limit: int, timeout: float) -> None:
        self.pipe = pipe
        self.master = master
        self.server = server
        self.limit = limit
        self.timeout = timeout
        self.asked = False
        self.last = 0.0
        self.interval = min(1.0, timeout / 4) if timeout else 1.0

    def send(self, message: bytes) -> None:
        try:
            os.write(self.pipe, message)
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        if os.getppid() != self.master:
            # The master is gone: no one would replace or stop this worker.
            raise SystemExit(0)
        core = self.server.core
        if self.limit and not self.asked and core is not None:
            if core.requests_served >= self.limit:
                self.asked = True
                self.send(b"M")
        handler = self.server.handler
        if self.timeout and handler is not None and hasattr(handler, "stuck"):
            if handler.stuck(core.thread_pool if core is not None else 1, self.timeout):
                return
        self.send(b".")


def _quick_exit(signum: int, frame: Any) -> None:
    sys.stderr.flush()
    os._exit(0)


def _graceful_exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _master_log(message: str, level: int) -> None:
    cherrypy_rs.log.error(message, "MASTER", severity=level)


def run(options: Options, load: Callable[[], None]) -> int:
    """Bind, (preload,) daemonize, write the PID file, then fork and supervise the
    workers until stopped; returns the exit status."""
    settings = options.settings
    assert settings is not None
    servers = options.bind()
    for srv in servers:
        srv.multiprocess = settings.workers > 1
        srv.track_busy = bool(settings.timeout)
        srv.settings["shutdown_timeout"] = settings.graceful_timeout
    if options.preload:
        load()
        gc.freeze()
    if options.daemon:
        log_file = options.error_log or "/dev/null"
        # stdout and stderr go to the error log file: the log's own screen handler
        # would write each line there a second time. The access log's screen output
        # (--access-log -) stays: its stdout is that file now.
        access_screen = cherrypy_rs.server.access_log_screen
        cherrypy_rs.log.screen = False
        cherrypy_rs.server.access_log_screen = access_screen
        plugins.daemonize("/dev/null", log_file, log_file)
    for srv in servers:
        # After daemonizing: the PID is the master's for good.
        assert srv.listener is not None
        srv.bound_addr = srv.listener.address
        _master_log(f"Listening at {srv.describe()} (master {os.getpid()})", 20)
        srv.bound_addr = None
    if options.pid:
        try:
            plugins.write_pidfile(options.pid)
        except (OSError, ValueError) as exc:
            raise CLIError(str(exc)) from None
    server = cherrypy_rs.server

    def boot() -> Any:
        if options.reuse_port:
            # Before dropping privileges: SO_REUSEPORT sockets must share an owner.
            for srv in servers:
                if srv.listener is not None and not srv.listener.socket_file:
                    reserved = srv.listener
                    host, port = reserved.address
                    srv.listener = cherrypy_rs._core.Listener(
                        host,
                        port,
                        int(srv.settings["socket_queue_size"]),
                        reuse_port=True,
                    )
                    reserved.close()
        plugins.drop_privileges(options.uid, options.gid, None)
        # The engine's lines say which worker wrote them.
        engine = cherrypy_rs.engine
        context = f"ENGINE {os.getpid()}"
        engine.unsubscribe("log", cherrypy_rs._log_engine)
        engine.subscribe(
            "log", lambda msg, level=20: cherrypy_rs.log.error(msg, context, severity=level)
        )
        if not options.preload:
            try:
                load()
            except CLIError as exc:
                print(f"cherrypy-rs: error: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
        # A worker never re-executes itself: a changed file (--reload, or
        # engine.autoreload.on in the config) asks the master for a rolling reload.
        # Subscribed before the start, so the files are watched once it serves.
        engine.autoreload.on_change = lambda filename: arbiter.notify(b"H")
        if options.reload:
            engine.autoreload.subscribe()
        try:
            engine.start()
        except cherrypy_rs.ChannelFailures as exc:
            if all(getattr(e, "quiet", False) for e in exc.get_instances()):
                raise SystemExit(1) from None
            raise
        return engine, server

    def on_exit() -> None:
        close_listeners(servers)
        if options.pid:
            plugins.remove_pidfile(options.pid)

    arbiter = Arbiter(settings, boot, _master_log, on_exit, reload=options.reload)
    return arbiter.run()


def quickstart_workers(load: Callable[[], None]) -> int:
    """``quickstart()`` with ``server.workers`` > 1: the application is already
    imported, so it is mounted in the master (as --preload) and the workers fork."""
    options = Options(settings=Settings(), preload=True)
    try:
        options.finish_config()
        return run(options, load)
    except CLIError as exc:
        print(f"cherrypy_rs: error: {exc}", file=sys.stderr)
        return 2
