"""Engine plugins at CherryPy's path (``cherrypy.process.plugins``): signals, daemon,
PID file, dropping privileges, autoreload, periodic tasks and per-thread callbacks.

A plugin subscribes its methods named after channels (``start``, ``stop``, ``exit``,
``graceful``...) to the bus; ``engine.<name>.on`` in config subscribes or unsubscribes
``engine.<name>``, and ``engine.<name>.<attr>`` sets its attributes.
"""

from __future__ import annotations

import grp
import importlib
import os
import pwd
import re
import signal as _signal
import sys
import threading
from typing import Any, Callable


class SimplePlugin:
    """A plugin whose methods named after a channel are subscribed to it."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus

    def subscribe(self) -> None:
        """Subscribe every method named after one of the bus's channels."""
        for channel in self.bus.listeners:
            method = getattr(self, channel, None)
            if method is not None:
                self.bus.subscribe(channel, method)

    def unsubscribe(self) -> None:
        """Unsubscribe what ``subscribe`` subscribed."""
        for channel in self.bus.listeners:
            method = getattr(self, channel, None)
            if method is not None:
                self.bus.unsubscribe(channel, method)


class SignalHandler:
    """OS signals → bus channels (main thread only). Defaults, as CherryPy: SIGTERM
    exits the bus, SIGHUP restarts the process when daemonized and is a graceful
    reload otherwise, SIGUSR1 is a graceful reload. ``handlers`` maps signal names to
    listeners; ``set_handler(name, listener)`` adds one (``engine.SIGHUP`` config)."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.handlers: dict[str, Callable[[], Any] | None] = {
            "SIGTERM": self.handle_SIGTERM,
            "SIGHUP": self.handle_SIGHUP,
            "SIGUSR1": bus.graceful,
        }
        #: Names of the signals, by number.
        self.signals = {
            int(v): k
            for k, v in vars(_signal).items()
            if k.startswith("SIG") and not k.startswith("SIG_") and isinstance(v, int)
        }
        self._previous: dict[int, Any] = {}

    def subscribe(self) -> None:
        """Install a handler for each signal of ``handlers`` (main thread only): the
        signal publishes the channel of its name, to which the listener is subscribed."""
        if threading.current_thread() is not threading.main_thread():
            return
        for name, listener in self.handlers.items():
            if listener is not None:
                self.set_handler(name, listener)
        self.bus.subscribe("exit", self.unsubscribe)

    def unsubscribe(self) -> None:
        """Restore the handlers that were there before."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            _signal.signal(signum, previous if previous is not None else _signal.SIG_DFL)
        self._previous.clear()

    def replace(self, name: str, listener: Callable[[], Any] | None) -> None:
        """``engine.SIGHUP`` / ``engine.SIGTERM`` config: ``listener`` handles the
        signal instead of the default (None: the signal is left alone)."""
        old = self.handlers.get(name)
        if old is not None:
            self.bus.unsubscribe(name, old)
        self.handlers[name] = listener
        signum = getattr(_signal, name, None)
        if isinstance(signum, int) and signum in self._previous:
            if listener is None:
                _signal.signal(signum, self._previous.pop(signum) or _signal.SIG_DFL)
            else:
                self.bus.subscribe(name, listener)

    def set_handler(self, name: str | int, listener: Callable[[], Any] | None = None) -> None:
        """Publish the bus channel named after the signal when it arrives (installed
        now, main thread only); subscribe ``listener`` to that channel."""
        if isinstance(name, int):
            signum, name = name, self.signals[name]
        else:
            found = getattr(_signal, name, None)
            if not isinstance(found, int):
                raise ValueError(f"{name!r} is not a signal name on this platform")
            signum = found
        if listener is not None:
            self.bus.subscribe(name, listener)
        if threading.current_thread() is not threading.main_thread():
            return
        previous = _signal.signal(signum, self._handle_signal)
        if signum not in self._previous:
            self._previous[signum] = previous
        self.bus.log(f"Listening for {name}.")

    def _handle_signal(self, signum: int, frame: Any = None) -> None:
        name = self.signals.get(signum, str(signum))
        self.bus.log(f"Caught signal {name}.")
        self.bus.publish(name)

    def _is_daemonized(self) -> bool:
        try:
            tty = os.isatty(sys.stdin.fileno())
        except (AttributeError, ValueError, OSError):
            tty = False
        return os.getppid() == 1 and not tty

    def handle_SIGTERM(self) -> None:
        """Exit the bus gracefully (in-flight requests finish)."""
        self.bus.log("SIGTERM received: shutting down gracefully")
        if self.bus.state is self.bus.states.STARTING:
            # Not blocking yet: unwind the start; quickstart exits the bus.
            raise SystemExit(0)
        self.bus.exit()

    def handle_SIGHUP(self) -> None:
        """Restart when daemonized (CherryPy), otherwise a graceful reload."""
        if self._is_daemonized():
            self.bus.log("SIGHUP caught while daemonized: restarting")
            self.bus.restart()
        else:
            self.bus.log("SIGHUP received: reloading")
            self.bus.graceful()


# -- users, groups, PID files, daemons: used by the plugins and by the master ---------


def resolve_uid(value: str | int | None) -> int | None:
    """A user name or number → uid; ValueError naming an unknown user."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    try:
        return pwd.getpwnam(str(value)).pw_uid
    except KeyError:
        raise ValueError(f"user {value!r}: no such user") from None


def resolve_gid(value: str | int | None) -> int | None:
    """A group name or number → gid; ValueError naming an unknown group."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    try:
        return grp.getgrnam(str(value)).gr_gid
    except KeyError:
        raise ValueError(f"group {value!r}: no such group") from None


#: Standard-library modules cherrypy_rs imports only when first needed (see the
#: "Lazy:" comments), loaded before privileges are dropped: the user switched to may not
#: be allowed to read the interpreter's library (a Python installed under /root).
LAZY_STDLIB = (
    "inspect",
    "hashlib",
    "hmac",
    "tempfile",
    "uuid",
    "subprocess",
    "email.header",
    "http.client",
    "urllib.request",
    "xmlrpc.client",
    "html",
    "pickle",
    "difflib",
    "base64",
    "gzip",
    "random",
)


def drop_privileges(uid: int | None, gid: int | None, umask: int | None) -> None:
    """Switch to ``gid`` then ``uid`` (only as root), set ``umask``; the modules of
    ``LAZY_STDLIB`` are imported first."""
    if (uid is not None and os.getuid() != uid) or (gid is not None and os.getgid() != gid):
        for name in LAZY_STDLIB:
            importlib.import_module(name)
    if gid is not None and os.getgid() != gid:
        os.setgroups([])
        os.setgid(gid)
    if uid is not None and os.getuid() != uid:
        if gid is None:
            os.setgid(pwd.getpwuid(uid).pw_gid)
            os.setgroups([])
        os.setuid(uid)
    if umask is not None:
        os.umask(umask)


def check_pidfile(path: str) -> None:
    """Refuse a PID file that names a live process or that cannot be written."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"PID file {path!r}: the directory {directory!r} does not exist")
    pid = read_pidfile(path)
    if pid is not None and pid != os.getpid() and _alive(pid):
        raise ValueError(
            f"PID file {path!r} names process {pid}, which is running: another server "
            "uses this PID file; stop it or choose another file"
        )
    existed = os.path.exists(path)
    try:
        # Really try: access() says yes to root on a filesystem that refuses writes.
        with open(path, "a"):
            pass
    except OSError as exc:
        raise ValueError(f"PID file {path!r} cannot be written: {exc.strerror}") from None
    if not existed:
        os.remove(path)


def read_pidfile(path: str) -> int | None:
    """The PID in ``path``, or None if there is none."""
    try:
        with open(path) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_pidfile(path: str) -> None:
    """Write this process's PID to ``path`` (after ``check_pidfile``)."""
    check_pidfile(path)
    with open(path, "w") as f:
        f.write(f"{os.getpid()}\n")


def remove_pidfile(path: str) -> None:
    """Remove ``path`` if it still names this process."""
    if read_pidfile(path) == os.getpid():
        try:
            os.remove(path)
        except OSError:
            pass


def daemonize(
    stdin: str = "/dev/null", stdout: str = "/dev/null", stderr: str = "/dev/null"
) -> None:
    """Detach from the terminal: fork, setsid, fork, redirect the standard streams."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.umask(os.umask(0o022))
    with open(stdin, "rb") as si:
        os.dup2(si.fileno(), 0)
    with open(stdout, "ab", 0) as so:
        os.dup2(so.fileno(), 1)
    with open(stderr, "ab", 0) as se:
        os.dup2(se.fileno(), 2)


class DropPrivileges(SimplePlugin):
    """Drop to ``uid``/``gid`` (names or numbers) and set ``umask`` once the servers
    are bound (priority 77, after the HTTP server's 75), as CherryPy."""

    def __init__(
        self, bus: Any, umask: int | None = None, uid: Any = None, gid: Any = None
    ) -> None:
        super().__init__(bus)
        self.finalized = False
        self._uid: int | None = None
        self._gid: int | None = None
        self.uid = uid
        self.gid = gid
        self.umask = umask

    @property
    def uid(self) -> int | None:
        return self._uid

    @uid.setter
    def uid(self, value: Any) -> None:
        self._uid = resolve_uid(value)

    @property
    def gid(self) -> int | None:
        return self._gid

    @gid.setter
    def gid(self, value: Any) -> None:
        self._gid = resolve_gid(value)

    def start(self) -> None:
        if self.finalized:
            return
        if os.getuid() == 0 or self.umask is not None:
            drop_privileges(self._uid, self._gid, self.umask)
            self.bus.log(f"Running as uid {os.getuid()}, gid {os.getgid()}")
        elif self._uid is not None or self._gid is not None:
            self.bus.log("uid/gid are set but the process is not root: not changed", level=30)
        self.finalized = True

    start.priority = 77  # type: ignore[attr-defined]


class Daemonizer(SimplePlugin):
    """Detach the process from its terminal at start (priority 65, before the servers)."""

    def __init__(
        self,
        bus: Any,
        stdin: str = "/dev/null",
        stdout: str = "/dev/null",
        stderr: str = "/dev/null",
    ) -> None:
        super().__init__(bus)
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.finalized = False

    def start(self) -> None:
        if self.finalized:
            self.bus.log("Already daemonized.")
            return
        if threading.active_count() != 1:
            self.bus.log(
                f"There are {threading.active_count()} active threads: daemonizing now may "
                "cause strange failures.",
                level=30,
            )
        daemonize(self.stdin, self.stdout, self.stderr)
        self.bus.log(f"Daemonized to PID: {os.getpid()}")
        self.finalized = True

    start.priority = 65  # type: ignore[attr-defined]


class PIDFile(SimplePlugin):
    """Write the PID to ``pidfile`` at start (refusing one that names a live process),
    remove it at exit."""

    def __init__(self, bus: Any, pidfile: str) -> None:
        super().__init__(bus)
        self.pidfile = pidfile
        self.finalized = False

    def start(self) -> None:
        if self.finalized:
            self.bus.log(f"PID {os.getpid()} already written to {self.pidfile!r}.")
            return
        write_pidfile(self.pidfile)
        self.bus.log(f"PID {os.getpid()} written to {self.pidfile!r}.")
        self.finalized = True

    start.priority = 70  # type: ignore[attr-defined]

    def exit(self) -> None:
        remove_pidfile(self.pidfile)
        self.bus.log(f"PID file removed: {self.pidfile!r}.")


class BackgroundTask(threading.Thread):
    """A daemon thread that calls ``function`` every ``interval`` seconds until
    ``cancel()``; an exception is logged on ``bus`` (if given) and ends it."""

    def __init__(
        self,
        interval: float,
        function: Callable[..., Any],
        args: Any = (),
        kwargs: Any = None,
        bus: Any = None,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.function = function
        self.args = args
        self.kwargs = kwargs or {}
        self.running = False
        self.bus = bus
        self.daemon = True
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self.running = False
        self._cancelled.set()

    def run(self) -> None:
        self.running = True
        while self.running:
            if self._cancelled.wait(self.interval):
                return
            if not self.running:
                return
            try:
                self.function(*self.args, **self.kwargs)
            except Exception:
                if self.bus:
                    self.bus.log(
                        f"Error in background task thread function {self.function!r}.",
                        level=40,
                        traceback=True,
                    )
                raise


class Monitor(SimplePlugin):
    """Call ``callback`` every ``frequency`` seconds in a BackgroundTask while started."""

    def __init__(
        self, bus: Any, callback: Callable[[], Any], frequency: float = 60, name: str | None = None
    ) -> None:
        super().__init__(bus)
        self.callback = callback
        self.frequency = frequency
        self.thread: BackgroundTask | None = None
        self.name = name

    def start(self) -> None:
        if self.frequency > 0 and self.thread is None:
            name = self.name or self.__class__.__name__
            self.thread = BackgroundTask(self.frequency, self.callback, bus=self.bus)
            self.thread.name = name
            self.thread.start()
            self.bus.log(f"Started monitor thread {name!r}.")

    start.priority = 70  # type: ignore[attr-defined]

    def stop(self) -> None:
        thread = self.thread
        if thread is None:
            return
        thread.cancel()
        if thread is not threading.current_thread():
            thread.join()
        self.bus.log(f"Stopped thread {thread.name!r}.")
        self.thread = None

    def graceful(self) -> None:
        self.stop()
        self.start()


class Autoreloader(Monitor):
    """Restart the process (``bus.restart()``) when a watched file changes: the files
    of imported modules whose name matches ``match``, and those in ``files`` (config
    files are added by ``config.update(filename)``). ``engine.autoreload.on``,
    ``.frequency`` (seconds) and ``.match`` (a regular expression) set it up.
    ``on_change`` replaces the restart (a worker process asks its master instead)."""

    def __init__(self, bus: Any, frequency: float = 1, match: str = ".*") -> None:
        self.mtimes: dict[str, float | None] = {}
        self.files: set[str] = set()
        self.match = match
        self.subscribed = False
        self.on_change: Callable[[str], Any] | None = None
        super().__init__(bus, self.run, frequency)

    def subscribe(self) -> None:
        if not self.subscribed:
            super().subscribe()
            self.subscribed = True
            if self.bus.state is self.bus.states.STARTED:
                self.start()

    def unsubscribe(self) -> None:
        if self.subscribed:
            self.stop()
            super().unsubscribe()
            self.subscribed = False

    def start(self) -> None:
        # The first look, now: a file changed after the start (after "Serving on") is a
        # change, however soon after the first poll would have come.
        self.mtimes = {}
        self.run()
        super().start()

    start.priority = 70  # type: ignore[attr-defined]

    def sysfiles(self) -> set[str]:
        """The files of the imported modules whose name matches ``match``."""
        pattern = re.compile(self.match)
        found = set()
        for name, module in list(sys.modules.items()):
            if not pattern.match(name):
                continue
            filename = self._file_for_file_module(module)
            if filename:
                found.add(filename)
        return found

    @staticmethod
    def _file_for_file_module(module: Any) -> str | None:
        """The absolute source path of ``module``, or None when it has no file
        (``__file__`` missing or None: built-in, namespace or frozen modules)."""
        filename = getattr(module, "__file__", None)
        if not filename:
            return None
        if filename.endswith((".pyc", ".pyo")):
            filename = filename[:-1]
        return os.path.abspath(filename)

    def run(self) -> None:
        """Compare each file's mtime with the last seen one; restart on a change."""
        for filename in self.sysfiles() | self.files:
            try:
                mtime: float | None = os.stat(filename).st_mtime
            except OSError:
                mtime = None
            if filename not in self.mtimes:
                self.mtimes[filename] = mtime
                continue
            if mtime != self.mtimes[filename]:
                self.bus.log(f"Restarting because {filename} changed.")
                self.mtimes[filename] = mtime
                if self.on_change is not None:
                    self.on_change(filename)
                else:
                    assert self.thread is not None
                    self.thread.cancel()
                    self.bus.log(f"Stopped thread {self.thread.name!r}.")
                    self.bus.restart()
                return


class ThreadManager(SimplePlugin):
    """Numbers the threads that serve requests: the first ``acquire_thread`` of a
    thread publishes ``start_thread(i)``, ``release_thread`` (or the bus stopping)
    publishes ``stop_thread(i)``. cherrypy_rs's worker threads acquire once when they
    start and release when they end."""

    def __init__(self, bus: Any) -> None:
        super().__init__(bus)
        self.threads: dict[int, int] = {}
        self._lock = threading.Lock()
        for channel in ("acquire_thread", "start_thread", "release_thread", "stop_thread"):
            bus.listeners.setdefault(channel, set())

    def acquire_thread(self) -> None:
        ident = threading.get_ident()
        with self._lock:
            if ident in self.threads:
                return
            i = len(self.threads) + 1
            self.threads[ident] = i
        self.bus.publish("start_thread", i)

    def release_thread(self) -> None:
        with self._lock:
            i = self.threads.pop(threading.get_ident(), None)
        if i is not None:
            self.bus.publish("stop_thread", i)

    def stop(self) -> None:
        with self._lock:
            released = list(self.threads.values())
            self.threads.clear()
        for i in released:
            self.bus.publish("stop_thread", i)

    graceful = stop
