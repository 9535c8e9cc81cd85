"""Assertions on log files (``cherrypy.test.logtest``): ``LogCase``, a mixin for test
cases that checks the lines a server wrote to ``self.logfile``.

``markLog()`` appends a marker line; the assertions then look at the lines after the
last marker (up to the next one), or at the whole file when the log was never marked.
The Rust server writes its access log on a thread of its own: both first wait until
the lines of the requests answered so far are written (``flush_access_logs``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from .._server import flush_access_logs


class LogCase:
    """Mixin: ``logfile`` names the log; ``markLog``/``assertInLog``/``assertLog``."""

    interactive = False
    logfile: str | None = None
    lastmarker: str | None = None
    markerPrefix = b"test suite marker: "
    console_height = 30

    def _handleLogError(self, msg: str, data: Any, marker: Any, pattern: Any) -> None:
        """Fail the test with ``msg`` (the interactive prompt is not offered)."""
        pytest.fail(msg)

    def exit(self) -> None:
        raise SystemExit

    def _log(self) -> str:
        if self.logfile is None:
            raise ValueError("LogCase.logfile is not set: name the log file to check")
        return self.logfile

    def emptyLog(self) -> None:
        """Truncate the log file."""
        with open(self._log(), "wb"):
            pass

    def markLog(self, key: str | None = None) -> None:
        """Append a marker line (``key``, by default the current time) to the log."""
        if key is None:
            key = str(time.time())
        self.lastmarker = key
        flush_access_logs()
        with open(self._log(), "ab") as f:
            f.write(self.markerPrefix + key.encode("utf-8") + b"\n")

    def _read_marked_region(self, marker: Any = None) -> list[bytes]:
        """The log lines after ``marker`` (default: the last one set) up to the next
        marker; every line when no marker was ever set."""
        marker = marker or self.lastmarker
        flush_access_logs()
        with open(self._log(), "rb") as f:
            lines = f.readlines()
        if marker is None:
            return lines
        if isinstance(marker, str):
            marker = marker.encode("utf-8")
        region: list[bytes] = []
        inside = False
        for line in lines:
            if inside:
                if line.startswith(self.markerPrefix) and marker not in line:
                    break
                region.append(line)
            elif marker in line:
                inside = True
        return region

    @staticmethod
    def _bytes(text: str | bytes) -> bytes:
        return text.encode("utf-8") if isinstance(text, str) else text

    def assertInLog(self, line: str | bytes, marker: Any = None) -> None:
        """Fail unless some line of the marked region contains ``line``."""
        data = self._read_marked_region(marker)
        wanted = self._bytes(line)
        if not any(wanted in logline for logline in data):
            self._handleLogError(f"{line!r} not found in log", data, marker, line)

    def assertNotInLog(self, line: str | bytes, marker: Any = None) -> None:
        """Fail if some line of the marked region contains ``line``."""
        data = self._read_marked_region(marker)
        wanted = self._bytes(line)
        if any(wanted in logline for logline in data):
            self._handleLogError(f"{line!r} found in log", data, marker, line)

    def assertValidUUIDv4(self, marker: Any = None) -> None:
        """Fail unless the last line of the marked region is a version 4 UUID."""
        data = [chunk.decode("utf-8").rstrip("\r\n") for chunk in self._read_marked_region(marker)]
        last = data[-1] if data else ""
        try:
            parsed = uuid.UUID(last, version=4)
        except ValueError:
            self._handleLogError("UUIDv4 not found in log", data, marker, last)
            return
        if str(parsed) != last:
            self._handleLogError(f"{last!r} is not a valid UUIDv4", data, marker, last)

    def assertLog(self, sliceargs: int | tuple[int, int], lines: Any, marker: Any = None) -> None:
        """With an int ``sliceargs``: fail unless that line of the marked region
        contains ``lines`` (a string, or a one-item list). With ``(start, stop)``:
        fail unless each of the region's lines in that slice contains the matching
        item of the list ``lines``."""
        data = self._read_marked_region(marker)
        if isinstance(sliceargs, int):
            if isinstance(lines, (tuple, list)):
                lines = lines[0]
            wanted = self._bytes(lines)
            if wanted not in data[sliceargs]:
                context = [
                    data[sliceargs],
                    b"--EXTRA CONTEXT--",
                    *data[sliceargs + 1 : sliceargs + 6],
                ]
                self._handleLogError(
                    f"{wanted!r} not found on log line {sliceargs!r}", context, marker, wanted
                )
            return
        if isinstance(lines, (str, bytes)):
            raise TypeError("The 'lines' arg must be a list when 'sliceargs' is a tuple.")
        start, stop = sliceargs
        for expected, logline in zip(list(lines), data[start:stop]):
            wanted = self._bytes(expected)
            if wanted not in logline:
                self._handleLogError(
                    f"{wanted!r} not found in log", data[start:stop], marker, wanted
                )
