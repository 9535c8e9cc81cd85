"""``cherrypy.process.wspbus``: the publish/subscribe bus with CherryPy's states and
channels (``Bus``, ``states``, ``ChannelFailures``). ``cherrypy.engine`` is a ``Bus``
with CherryPy's plugins (``cherrypy_rs._engine.Engine``).

Signals are received by Python's main thread, which waits interruptibly in ``block()``;
the Rust side installs no signal handler of its own.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from typing import Any, Callable

#: The working directory at import, where a re-exec (``bus.restart()``) starts again.
_startup_cwd = os.getcwd()


#: Set on the server's worker threads (``_server.Server._thread_main``).
SERVING_ATTR = "_cherrypy_rs_serving"


def _handed_off(method: Callable[[], None]) -> bool:
    """Runs ``method`` on a new (non-daemon) thread when called from a request handler:
    the server's stop waits for the requests in flight, this one among them, so stopping
    from the handler's own thread would wait for itself. The handler returns at once and
    its response is sent while the bus stops. True when handed off."""
    if not getattr(threading.current_thread(), SERVING_ATTR, False):
        return False
    # Not a daemon (a thread inherits that from the worker that starts it): block()
    # in the main thread waits for it, so the "exit" channel runs to its end.
    threading.Thread(target=method, name=f"Bus {method.__name__}", daemon=False).start()
    return True


class _State:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"states.{self.name}"


class states:
    """The bus states."""

    STOPPED = _State("STOPPED")
    STARTING = _State("STARTING")
    STARTED = _State("STARTED")
    STOPPING = _State("STOPPING")
    EXITING = _State("EXITING")


class ChannelFailures(Exception):
    """One or more listeners of a channel raised; the errors are in ``get_instances()``."""

    delimiter = "\n"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._exceptions: list[BaseException] = []

    def handle_exception(self) -> None:
        self._exceptions.append(sys.exc_info()[1])  # type: ignore[arg-type]

    def get_instances(self) -> list[BaseException]:
        return self._exceptions[:]

    def __str__(self) -> str:
        return self.delimiter.join(map(repr, self._exceptions))

    def __bool__(self) -> bool:
        return bool(self._exceptions)


class Bus:
    """A process-wide bus: ``subscribe(channel, callback, priority)`` and ``publish``.

    Channels: start, stop, exit, graceful, log, main (and any other name).
    Lower priorities run first (default 50); on "stop" and "exit" too, as in CherryPy.
    """

    states = states

    def __init__(self) -> None:
        self.execv = False
        self.state: _State = states.STOPPED
        self.listeners: dict[str, set[Callable[..., Any]]] = {
            c: set() for c in ("start", "stop", "exit", "graceful", "log", "main")
        }
        self._priorities: dict[tuple[str, Callable[..., Any]], int] = {}
        self._state_changed = threading.Condition()

    def subscribe(
        self, channel: str, callback: Callable[..., Any] | None = None, priority: int | None = None
    ) -> Any:
        """Add ``callback`` to ``channel`` (usable as a decorator)."""
        if callback is None:
            return lambda cb: self.subscribe(channel, cb, priority)
        self.listeners.setdefault(channel, set()).add(callback)
        if priority is None:
            priority = getattr(callback, "priority", 50)
        self._priorities[(channel, callback)] = priority
        return callback

    def unsubscribe(self, channel: str, callback: Callable[..., Any]) -> None:
        listeners = self.listeners.get(channel)
        if listeners and callback in listeners:
            listeners.discard(callback)
            del self._priorities[(channel, callback)]

    def publish(self, channel: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Call every listener of ``channel``; raise ChannelFailures if any failed."""
        if channel not in self.listeners:
            return []
        failures = ChannelFailures()
        output = []
        items = sorted(
            ((self._priorities[(channel, cb)], id(cb), cb) for cb in self.listeners[channel]),
            key=lambda t: (t[0], t[1]),
        )
        for _priority, _id, listener in items:
            try:
                output.append(listener(*args, **kwargs))
            except KeyboardInterrupt:
                raise
            except SystemExit as exc:
                if failures and exc.code == 0:
                    exc.code = 1
                raise
            except Exception as exc:
                failures.handle_exception()
                if channel == "log":
                    pass  # a broken logger must not recurse into logging
                elif getattr(exc, "quiet", False):
                    # Errors whose message says what to fix (a port in use, a bad key).
                    self.log(f"Error in {channel!r} listener: {exc}", level=40)
                else:
                    self.log(
                        f"Error in {channel!r} listener {listener!r}", level=40, traceback=True
                    )
        if failures:
            raise failures
        return output

    def _set_state(self, state: _State) -> None:
        with self._state_changed:
            self.state = state
            self._state_changed.notify_all()

    def start(self) -> None:
        """Start all services (the HTTP servers among them)."""
        self._set_state(states.STARTING)
        self.log("Bus STARTING")
        try:
            self.publish("start")
            self._set_state(states.STARTED)
            self.log("Bus STARTED")
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            quiet = all(getattr(e, "quiet", False) for e in _instances(exc))
            self.log("Shutting down due to error in start listener:", level=40, traceback=not quiet)
            try:
                self.exit()
            except Exception:
                self.log("Error while exiting after a failed start", level=40, traceback=True)
            raise

    def stop(self) -> None:
        """Stop all services (graceful: in-flight requests finish). From a request
        handler, the stop runs on another thread and this returns at once."""
        if _handed_off(self.stop):
            return
        self._set_state(states.STOPPING)
        self.log("Bus STOPPING")
        self.publish("stop")
        self._set_state(states.STOPPED)
        self.log("Bus STOPPED")

    def restart(self) -> None:
        """Stop the bus and re-execute the process: the main thread, in ``block()``,
        calls ``os.execv`` once every other thread has finished."""
        self.execv = True
        self.exit()

    def graceful(self) -> None:
        """Advise all services to reload."""
        self.log("Bus graceful")
        self.publish("graceful")

    def exit(self) -> None:
        """Stop all services and prepare to exit the process. From a request handler,
        the exit runs on another thread (the handler's response is sent first)."""
        if _handed_off(self.exit):
            return
        try:
            self.stop()
            self._set_state(states.EXITING)
            self.log("Bus EXITING")
            self.publish("exit")
            self.log("Bus EXITED")
        except Exception:
            self.log("Error while exiting the bus", level=40, traceback=True)
            raise

    def wait(self, state: Any, interval: float = 0.1, channel: str | None = None) -> None:
        """Wait until the bus is in ``state`` (or one of a list of states)."""
        wanted = state if isinstance(state, (tuple, list)) else [state]
        with self._state_changed:
            while self.state not in wanted:
                # A timed wait keeps the main thread responsive to signals.
                self._state_changed.wait(interval)
                if channel:
                    self.publish(channel)

    def block(self, interval: float = 0.1) -> None:
        """Wait (main thread) until the bus exits; Ctrl-C or SystemExit exit it."""
        try:
            self.wait(states.EXITING, interval=interval, channel="main")
        except KeyboardInterrupt:
            self.log("Keyboard Interrupt: shutting down bus")
            self.exit()
        except SystemExit:
            self.log("SystemExit raised: shutting down bus")
            self.exit()
            raise
        self.log("Waiting for child threads to terminate...")
        for t in threading.enumerate():
            if (
                t is not threading.current_thread()
                and t is not threading.main_thread()
                and not t.daemon
            ):
                self.log(f"Waiting for thread {t.name}.")
                t.join()
        if self.execv:
            self._do_execv()

    def _do_execv(self) -> None:
        """Re-execute the current process with the same interpreter and arguments."""
        args = [sys.executable, *_interpreter_flags(), *_true_argv()]
        self.log(f"Re-spawning {' '.join(args)}")
        path = os.environ.get("PYTHONPATH", "")
        cwd = _startup_cwd
        if sys.path and sys.path[0] == "" and cwd not in path.split(os.pathsep):
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (cwd, path) if p)
        os.chdir(_startup_cwd)
        # Python opens files and sockets non-inheritable, Rust with O_CLOEXEC: nothing
        # leaks into the new process.
        os.execv(sys.executable, args)

    def start_with_callback(
        self, func: Callable[..., Any], args: Any = None, kwargs: Any = None
    ) -> threading.Thread:
        """Start ``func`` in a new thread that waits for the STARTED state, then start
        the bus; returns the thread."""

        def callback() -> None:
            self.wait(states.STARTED)
            func(*(args or ()), **(kwargs or {}))

        thread = threading.Thread(target=callback)
        thread.name = f"Bus Callback {thread.name}"
        thread.start()
        self.start()
        return thread

    def log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        """Publish ``msg`` on the "log" channel."""
        if traceback:
            msg += "\n" + "".join(_format_current())
        self.publish("log", msg, level)


def _interpreter_flags() -> list[str]:
    """The interpreter options the process was started with (``-X``, ``-W``...)."""
    # Lazy: only a re-exec needs it (subprocess costs ~2.4 MiB per process).
    import subprocess

    return subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]


def _true_argv() -> list[str]:
    """``sys.argv`` as the process was started: ``-m module`` restored."""
    orig = getattr(sys, "orig_argv", None)
    if orig and len(orig) > 1:
        # orig_argv[0] is the interpreter; drop the flags we add back ourselves.
        rest = list(orig[1:])
        out: list[str] = []
        while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c"):
            flag = rest.pop(0)
            if flag in ("-X", "-W") and rest:
                rest.pop(0)
        out.extend(rest)
        return out
    return list(sys.argv)


def _instances(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, ChannelFailures):
        return exc.get_instances()
    return [exc]


def _format_current() -> list[str]:
    return traceback.format_exception(*sys.exc_info())


#: A bus of its own, as CherryPy's module offers (``cherrypy.engine`` is another one).
bus = Bus()
