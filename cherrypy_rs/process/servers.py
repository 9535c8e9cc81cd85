"""``cherrypy.process.servers``: ``ServerAdapter`` runs an HTTP server while the bus is
started. ``cherrypy_rs.server`` (the Rust server) is one; so is each extra server
configured as ``server.<name>.*`` (``cherrypy_rs.servers``)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

#: Addresses that bind every interface: a check through them may not see the server.
INADDR_ANY = ("0.0.0.0", "::", "")


class ServerAdapter:
    """Start ``httpserver`` on the bus's "start" channel (priority 75) and stop it on
    "stop" (priority 25). ``httpserver`` has ``start()`` (binding before it returns)
    and ``stop()`` (graceful); ``bind_addr`` is (host, port)."""

    def __init__(self, bus: Any, httpserver: Any = None, bind_addr: Any = None) -> None:
        self.bus = bus
        self.httpserver = httpserver
        self.bind_addr = bind_addr
        self.running = False

    def subscribe(self) -> None:
        self.bus.subscribe("start", self.start, priority=75)
        self.bus.subscribe("stop", self.stop, priority=25)

    def unsubscribe(self) -> None:
        self.bus.unsubscribe("start", self.start)
        self.bus.unsubscribe("stop", self.stop)

    def start(self) -> None:
        """Start the HTTP server; it is listening when this returns."""
        if self.running:
            self.bus.log(f"Already serving on {self.description}")
            return
        if self.httpserver is None:
            raise ValueError("No HTTP server has been created.")
        self.httpserver.start()
        self.running = True
        self.bus.log(f"Serving on {self.description}")

    @property
    def description(self) -> str:
        """``host:port`` (or the socket file) of the server."""
        addr = self.bind_addr
        if isinstance(addr, tuple):
            host, port = addr
            return f"http://{host}:{port}"
        return str(addr)

    def wait(self) -> None:
        """The server is ready once ``start`` returns: nothing to wait for."""

    def stop(self) -> None:
        """Stop the HTTP server gracefully."""
        if self.running and self.httpserver is not None:
            self.httpserver.stop()
            self.running = False
            self.bus.log(f"HTTP Server {self.httpserver} shut down")

    def restart(self) -> None:
        """Stop, then start again."""
        self.stop()
        self.start()


@contextlib.contextmanager
def _safe_wait(host: str, port: int) -> Iterator[None]:
    """Around a wait for a port to be bound (``portend.occupied``): on a wildcard
    ``host`` a failed check only warns (the server may be bound where the check cannot
    see it); on a specific host the ``OSError`` propagates. CherryPy's helper."""
    try:
        yield
    except OSError:
        if host not in INADDR_ANY:
            raise
        warnings.warn(
            f"Unable to verify that the server is bound on {port}", UserWarning, stacklevel=3
        )
