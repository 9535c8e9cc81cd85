"""Logging (``cherrypy._cplogging``): ``cherrypy.log`` writes the error log through
Python's ``logging`` ("cherrypy.error") to the screen and/or ``log.error_file``.

The access log is written by Rust (see ``rust/access_log.rs``) in CherryPy's default
format, to the screen and/or ``log.access_file``, so it costs no Python per request.
What a handler changes that the line shows (``request.login``, ``request.remote.name``
or ``.ip``, ``request.request_line``, the ``User-Agent``/``Referer`` request headers) is
handed to Rust as it is set (see ``objects.py``). When the format is not CherryPy's
default — ``LogManager.access_log_format`` set on the class or on ``cherrypy.log``, or
``access`` replaced — every application request calls ``LogManager.access()`` instead,
which formats the line in Python with CherryPy's atoms, and Rust writes that line.
"""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any, Callable

from .context import request_or_raise, response_or_raise

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class LazyRfc3339UtcTime:
    """Now in UTC as RFC 3339 text (``2026-11-25T01:21:16.123456Z``) when turned into a
    ``str`` (``cherrypy._cplogging.LazyRfc3339UtcTime``; CherryPy's own appends ``Z``
    after ``+00:00``, which RFC 3339 does not allow)."""

    def __str__(self) -> str:
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        return f"{now.isoformat('T')}Z"


#: CherryPy's access-log format (Apache's combined format without the zone); the atoms
#: are ``h`` host, ``l`` "-", ``u`` login, ``t`` time, ``r`` request line, ``s`` status,
#: ``b`` Content-Length, ``f`` Referer, ``a`` User-Agent, ``o`` Host, ``i`` the
#: request's unique id, ``z`` the time as RFC 3339 UTC.
DEFAULT_ACCESS_LOG_FORMAT = '{h} {l} {u} {t} "{r}" {s} {b} "{f}" "{a}"'

#: Called (no arguments) when whether the access log needs Python may have changed:
#: the running servers choose their request handler again.
access_mode_listeners: list[Callable[[], None]] = []

#: The attributes whose change can make the access log need Python.
_ACCESS_ATTRS = frozenset(("access_log_format", "access"))

#: Called with the manager and the attribute name when one of its access-log outputs
#: (``screen``, ``access_file``) is set, however it is set (config or attribute): the
#: server writes the access log from Rust and must learn it.
output_listeners: list[Callable[[Any, str], None]] = []

#: The attributes that choose where the access log goes.
_OUTPUT_ATTRS = frozenset(("screen", "access_file"))


def _access_mode_changed() -> None:
    for listener in list(access_mode_listeners):
        listener()


class _LogManagerType(type):
    """Notices ``LogManager.access_log_format = ...`` (or ``access``) on the class, as
    tests and applications set it, so the request path changes only then."""

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _ACCESS_ATTRS:
            _access_mode_changed()

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        if name in _ACCESS_ATTRS:
            _access_mode_changed()


def _escape_atom(value: Any) -> str:
    """One atom as CherryPy writes it: ``"`` escaped, then the ``repr`` of its UTF-8
    bytes without the quotes (non-printable bytes as ``\\xhh``, whitespace in C
    notation), with backslashes left single."""
    text = value if isinstance(value, str) else str(value)
    text = repr(text.replace('"', '\\"').encode("utf8"))[2:-1]
    return text.replace("\\\\", "\\")


class LogManager(metaclass=_LogManagerType):
    """``cherrypy.log``: call it to log to the error log.

    ``screen``, ``error_file`` and ``access_file`` mirror the ``log.*`` config keys;
    ``access_log_format`` is CherryPy's (a ``str.format`` template of the atoms
    ``h l u t r s b f a o i z``).
    """

    access_log_format = DEFAULT_ACCESS_LOG_FORMAT

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

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _ACCESS_ATTRS:
            _access_mode_changed()
        elif name in _OUTPUT_ATTRS:
            for listener in list(output_listeners):
                listener(self, name)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name in _ACCESS_ATTRS:
            _access_mode_changed()

    def access_needs_python(self) -> bool:
        """Whether requests must call ``access()`` (a format other than CherryPy's
        default, or ``access`` replaced) instead of Rust writing the line."""
        return (
            self.access_log_format != DEFAULT_ACCESS_LOG_FORMAT
            or type(self).access is not LogManager.access
            or "access" in self.__dict__
        )

    def access(self) -> None:
        """Write the current request's line to the access log, in
        ``access_log_format`` (CherryPy's ``LogManager.access``).

        Each atom is escaped as CherryPy does (see ``_escape_atom``). Served by the
        Rust server, the line goes to its access-log writer (screen, ``log.access_file``
        and the handlers of the "cherrypy.access" logger) instead of its own line;
        otherwise to the "cherrypy.access" logger.
        """
        request = request_or_raise()
        response = response_or_raise()
        remote = request.remote
        headers = response.headers
        inheaders = request.headers
        length = dict.get(headers, "Content-Length")
        if length is None:
            # CherryPy's finalize() sets it for a body that is not streamed; ours leaves
            # it to Rust.
            body = response.body
            length = len(body) if isinstance(body, bytes) and not response.stream else ""
        atoms = {
            "h": remote.name or remote.ip,
            "l": "-",
            "u": getattr(request, "login", None) or "-",
            "t": self.time(),
            "r": request.request_line,
            "s": str(response.status_code),
            "b": length or "-",
            "f": dict.get(inheaders, "Referer", ""),
            "a": dict.get(inheaders, "User-Agent", ""),
            "o": dict.get(inheaders, "Host", "-"),
            "i": request.unique_id,
            # Looked up at call time: cherrypy._cplogging is this module (tests patch it).
            "z": LazyRfc3339UtcTime(),
        }
        try:
            line = self.access_log_format.format(**{k: _escape_atom(v) for k, v in atoms.items()})
            core_line = getattr(request._core, "log_line", None)
            if core_line is not None:
                core_line(line)
            else:
                self.access_log.log(logging.INFO, line)
        except Exception:
            self(traceback=True)

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
        elif key == "access_log_format":
            self.access_log_format = value
        elif key in ("error_log", "access_log"):
            raise ValueError(
                f"log.{key}: cherrypy_rs does not replace the {key.split('_')[0]} logger "
                "from config (the key would do nothing); add handlers to "
                f"cherrypy.log.{key} (a logging.Logger) instead"
            )
        else:
            raise ValueError(
                f"unknown config key log.{key}: use log.screen, log.error_file, "
                "log.access_file or log.access_log_format"
            )
