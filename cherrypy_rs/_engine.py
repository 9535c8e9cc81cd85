"""The engine (``cherrypy.engine``): a publish/subscribe bus with CherryPy's states and
channels, and the signal handling that turns SIGINT/SIGTERM into a graceful stop.

Signals are received by Python's main thread, which waits interruptibly in ``block()``;
the Rust side installs no signal handler of its own.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from typing import Any, Callable


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
        """Stop all services (graceful: in-flight requests finish)."""
        self._set_state(states.STOPPING)
        self.log("Bus STOPPING")
        self.publish("stop")
        self._set_state(states.STOPPED)
        self.log("Bus STOPPED")

    def graceful(self) -> None:
        """Advise all services to reload."""
        self.log("Bus graceful")
        self.publish("graceful")

    def exit(self) -> None:
        """Stop all services and prepare to exit the process."""
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

    def start_with_callback(
        self, func: Callable[..., Any], args: Any = None, kwargs: Any = None
    ) -> threading.Thread:
        """Start the bus, then run ``func`` in a new thread."""
        thread = threading.Thread(target=func, args=args or (), kwargs=kwargs or {})
        thread.name = f"Bus Callback {thread.name}"
        self.start()
        thread.start()
        return thread

    def log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        """Publish ``msg`` on the "log" channel."""
        if traceback:
            msg += "\n" + "".join(_format_current())
        self.publish("log", msg, level)


def _instances(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, ChannelFailures):
        return exc.get_instances()
    return [exc]


def _format_current() -> list[str]:
    return traceback.format_exception(*sys.exc_info())


class SignalHandler:
    """Map SIGTERM and SIGHUP to bus exit and SIGINT to KeyboardInterrupt (the default)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.handlers: dict[str, Callable[..., Any]] = {
            "SIGTERM": self.handle_SIGTERM,
            "SIGHUP": self.handle_SIGHUP,
        }
        self._previous: dict[int, Any] = {}

    def subscribe(self) -> None:
        """Install the handlers (main thread only) and uninstall them at exit."""
        if threading.current_thread() is not threading.main_thread():
            return
        for name, handler in self.handlers.items():
            signum = getattr(signal, name, None)
            if signum is None or handler is None:
                continue
            self._previous[signum] = signal.signal(signum, handler)
            self.bus.log(f"Listening for {name}.")
        self.bus.subscribe("exit", self.unsubscribe)

    def unsubscribe(self) -> None:
        """Restore the previous handlers."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def handle_SIGTERM(self, signum: int, frame: Any) -> None:
        self.bus.log("SIGTERM received: shutting down gracefully")
        raise SystemExit(0)

    def handle_SIGHUP(self, signum: int, frame: Any) -> None:
        self.bus.log("SIGHUP received: reloading")
        self.bus.graceful()


class Engine(Bus):
    """``cherrypy.engine``: the bus plus its signal handler."""

    def __init__(self) -> None:
        super().__init__()
        self.signal_handler = SignalHandler(self)
        self.autoreload_on = False

    @property
    def signals(self) -> SignalHandler:
        return self.signal_handler

    def apply(self, key: str, value: Any) -> None:
        """The ``engine`` config namespace handler."""
        if key in ("SIGHUP", "SIGTERM"):
            self.signal_handler.handlers[key] = value
        elif key == "autoreload.on":
            # Reloading lands with the process model; until then it stays off.
            self.autoreload_on = bool(value)
        else:
            # Plugin keys (engine.<plugin>.<attr>) are kept in the config for the plugins.
            pass
