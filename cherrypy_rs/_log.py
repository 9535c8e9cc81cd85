"""Logging (``cherrypy._cplogging``): ``cherrypy.log`` writes the error log through
Python's ``logging`` ("cherrypy.error") to the screen and/or ``log.error_file``.

The access log is written by Rust (see ``rust/access_log.rs``) in the same format, to
the screen and/or ``log.access_file``, so it costs no Python per request.
"""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class LazyRfc3339UtcTime:
    """Now in UTC as RFC 3339 text (``2026-11-25T01:21:16.123456Z``) when turned into a
    ``str`` (``cherrypy._cplogging.LazyRfc3339UtcTime``; CherryPy's own appends ``Z``
    after ``+00:00``, which RFC 3339 does not allow)."""

    def __str__(self) -> str:
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        return f"{now.isoformat('T')}Z"


class LogManager:
    """``cherrypy.log``: call it to log to the error log.

    ``screen``, ``error_file`` and ``access_file`` mirror the ``log.*`` config keys.
    """

    def __init__(self, appid: str | None = None, logger_root: str = "cherrypy") -> None:
        self.logger_root = logger_root
        self.appid = appid
        name = logger_root if appid is None else f"{logger_root}.{appid}"
        self.error_log = logging.getLogger(f"{name}.error")
        self.access_log = logging.getLogger(f"{name}.access")
        self.error_log.setLevel(logging.INFO)
        self.access_log.setLevel(logging.INFO)
        self.error_log.propagate = False
        # With log.screen off and no file, lines go nowhere (not to logging's last resort).
        self.error_log.addHandler(logging.NullHandler())
        self._screen = False
        self._error_file = ""
        self.access_file = ""
        self._handlers: dict[str, logging.Handler] = {}

    def time(self) -> str:
        """Now in Apache Common Log Format, without the zone: ``[25/Nov/2026:01:21:16]``."""
        now = datetime.datetime.now()
        return (
            f"[{now.day:02d}/{_MONTHS[now.month - 1]}/{now.year:04d}:"
            f"{now.hour:02d}:{now.minute:02d}:{now.second:02d}]"
        )

    def error(
        self,
        msg: str = "",
        context: str = "",
        severity: int = logging.INFO,
        traceback: bool = False,
    ) -> None:
        """Write ``msg`` to the error log, with the current traceback if asked."""
        exc_info = None
        if traceback:
            exc_info = sys.exc_info()
            if exc_info == (None, None, None):
                exc_info = None
        self.error_log.log(severity, " ".join((self.time(), context, msg)), exc_info=exc_info)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Write to the error log (same arguments as ``error``)."""
        self.error(*args, **kwargs)

    # log.screen ---------------------------------------------------------------
    @property
    def screen(self) -> bool:
        """Whether error-log lines also go to stderr (access lines to stdout, via Rust)."""
        return self._screen

    @screen.setter
    def screen(self, on: bool) -> None:
        self._screen = bool(on)
        self._set_handler("screen", logging.StreamHandler(sys.stderr) if on else None)

    # log.error_file -----------------------------------------------------------
    @property
    def error_file(self) -> str:
        """The file the error log is appended to ("" for none)."""
        return self._error_file

    @error_file.setter
    def error_file(self, filename: str) -> None:
        self._error_file = filename or ""
        handler = logging.FileHandler(filename, encoding="utf-8") if filename else None
        self._set_handler("file", handler)

    def _set_handler(self, key: str, handler: logging.Handler | None) -> None:
        old = self._handlers.pop(key, None)
        if old is not None:
            self.error_log.removeHandler(old)
            old.close()
        if handler is not None:
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.error_log.addHandler(handler)
            self._handlers[key] = handler

    def apply(self, key: str, value: Any) -> None:
        """The ``log`` config namespace handler."""
        if key == "screen":
            self.screen = value
        elif key == "error_file":
            self.error_file = value
        elif key == "access_file":
            self.access_file = value or ""
        elif key in ("error_log", "access_log"):
            pass
        else:
            raise ValueError(
                f"unknown config key log.{key}: use log.screen, log.error_file or log.access_file"
            )
