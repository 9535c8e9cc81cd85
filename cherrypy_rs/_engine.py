"""The engine (``cherrypy.engine``): the bus (``process.wspbus.Bus``) with CherryPy's
default plugins, and its ``engine.*`` config namespace."""

from __future__ import annotations

from typing import Any

from .process import plugins
from .process.wspbus import Bus, ChannelFailures, states

__all__ = ["Bus", "ChannelFailures", "Engine", "states"]


class Engine(Bus):
    """``cherrypy.engine``: the bus with CherryPy's default plugins: ``signal_handler``
    (subscribed by ``quickstart``), ``autoreload`` (off unless ``engine.autoreload.on``)
    and ``thread_manager`` (subscribed)."""

    def __init__(self) -> None:
        super().__init__()
        for channel in ("start_thread", "stop_thread", "acquire_thread", "release_thread"):
            self.listeners.setdefault(channel, set())
        self.signal_handler = plugins.SignalHandler(self)
        self.autoreload = plugins.Autoreloader(self)
        self.thread_manager = plugins.ThreadManager(self)
        self.thread_manager.subscribe()

    @property
    def signals(self) -> Any:
        return self.signal_handler

    @property
    def autoreload_on(self) -> bool:
        return self.autoreload.subscribed

    def apply(self, key: str, value: Any) -> None:
        """The ``engine`` config namespace handler: ``SIGHUP``/``SIGTERM`` name the
        listener for that signal (None: leave the signal alone); as in CherryPy,
        ``<plugin>.on`` subscribes or unsubscribes the plugin ``engine.<plugin>`` and
        ``<plugin>.<attr>`` sets an attribute on it."""
        if key in ("SIGHUP", "SIGTERM"):
            if value is not None and not callable(value):
                # It would fail only when the signal arrives.
                raise ValueError(
                    f"engine.{key} = {value!r}: give the function to call when the signal "
                    "arrives, or None to leave the signal alone"
                )
            self.signal_handler.replace(key, value)
        elif "." in key:
            name, attr = key.split(".", 1)
            plugin = getattr(self, name, None)
            if plugin is None:
                raise ValueError(
                    f"engine.{key}: the engine has no plugin {name!r} (set "
                    f"engine.{name} = plugin first, or check the spelling)"
                )
            if attr == "on":
                if value and hasattr(plugin, "subscribe"):
                    plugin.subscribe()
                elif not value and hasattr(plugin, "unsubscribe"):
                    plugin.unsubscribe()
            elif "." in attr or not hasattr(plugin, attr):
                # CherryPy would set it and nothing would read it: a misspelt option.
                raise ValueError(
                    f"engine.{key}: the {name} plugin ({type(plugin).__name__}) has no "
                    f"attribute {attr!r}, so the key would do nothing; check the spelling"
                )
            else:
                setattr(plugin, attr, value)
        elif not hasattr(self, key):
            raise ValueError(
                f"engine.{key}: the engine has no attribute {key!r}, so the key would do "
                "nothing; engine keys are SIGHUP, SIGTERM, <plugin>.on and <plugin>.<option>"
            )
        else:
            setattr(self, key, value)


def run(engine: Engine) -> int:
    """Start ``engine`` with its signal handlers, block until it exits, and return the
    exit status: 0, or 1 when a start listener failed with an error the engine has
    already logged in full (a ``quiet`` one). Ctrl-C or SIGTERM while starting stop
    as gracefully as once started. The one start/block/exit sequence of
    ``quickstart``, the ``cherrypy-rs`` command and ``python -m cherrypy_rs``."""
    engine.signals.subscribe()
    try:
        engine.start()
        engine.block()
    except ChannelFailures as exc:
        if all(getattr(e, "quiet", False) for e in exc.get_instances()):
            return 1
        raise
    except KeyboardInterrupt:
        engine.log("Keyboard Interrupt: shutting down bus")
        engine.exit()
    except SystemExit:
        if engine.state not in (states.EXITING, states.STOPPED):
            engine.exit()
        raise
    return 0
