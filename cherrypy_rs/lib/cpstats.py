"""``cherrypy.lib.cpstats``: statistics of the requests (``tools.cpstats``) in
``logging.statistics``, and ``StatsPage``, a handler that shows them.

``logging.statistics`` is a dict of namespaces, each a dict of named values; a value
that is a function of its namespace (``lambda s: ...``) is computed when reported
(``extrapolate_statistics``). ``tools.cpstats`` fills the "CherryPy Applications"
namespace: request counts, bytes read and written, times, the requests in progress,
per-URI-set timings (``tools.cpstats.uriset``) and the slowest requests.

Mount the page with ``root.cpstats = cpstats.StatsPage()``: ``/cpstats/`` is an HTML
table, ``/cpstats/data`` JSON, and POSTs to ``pause``/``resume`` turn a namespace off
and on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from .. import context
from .._html import escape as _escape_html
from ..errors import CHERRYPY_VERSION, HTTPRedirect
from ..helper import expose
from ..toolbox import Tool

if not hasattr(logging, "statistics"):
    logging.statistics = {}  # type: ignore[attr-defined]


def _uptime(s: dict[str, Any]) -> float:
    return time.time() - s["Start Time"]  # type: ignore[no-any-return]


def _per_request(total: str) -> Any:
    return lambda s: (s[total] / float(s["Total Requests"])) if s["Total Requests"] else 0.0


def _per_second(total: str) -> Any:
    return lambda s: s[total] / s["Uptime"](s)


appstats: dict[str, Any] = logging.statistics.setdefault(  # type: ignore[attr-defined]
    "CherryPy Applications", {}
)
appstats.update(
    {
        "Enabled": True,
        "Bytes Read/Request": _per_request("Total Bytes Read"),
        "Bytes Read/Second": _per_second("Total Bytes Read"),
        "Bytes Written/Request": _per_request("Total Bytes Written"),
        "Bytes Written/Second": _per_second("Total Bytes Written"),
        "Current Time": lambda s: time.time(),
        "Current Requests": 0,
        "Requests/Second": lambda s: float(s["Total Requests"]) / s["Uptime"](s),
        "Server Version": CHERRYPY_VERSION,
        "Start Time": time.time(),
        "Total Bytes Read": 0,
        "Total Bytes Written": 0,
        "Total Requests": 0,
        "Total Time": 0,
        "Uptime": _uptime,
        "Requests": {},
    }
)

_lock = threading.Lock()


def extrapolate_statistics(scope: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``scope`` with its function values computed (nested dicts and lists
    of dicts too)."""
    result: dict[str, Any] = {}
    for key, value in list(scope.items()):
        if isinstance(value, dict):
            value = extrapolate_statistics(value)
        elif isinstance(value, (list, tuple)):
            value = [extrapolate_statistics(record) for record in value]
        elif callable(value):
            value = value(scope)
        result[key] = value
    return result


def proc_time(s: dict[str, Any]) -> float:
    """Seconds since a request started (its "Processing Time" while it runs)."""
    return time.time() - s["Start Time"]  # type: ignore[no-any-return]


def average_uriset_time(s: dict[str, Any]) -> float:
    return (s["Sum"] / s["Count"]) if s["Count"] else 0  # type: ignore[no-any-return]


class ByteCountWrapper:
    """A file-like object that counts the bytes read from another."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = self.rfile.read(-1 if size is None else size)
        self.bytes_read += len(data)
        return data  # type: ignore[no-any-return]

    def readline(self, size: int | None = -1) -> bytes:
        data = self.rfile.readline(-1 if size is None else size)
        self.bytes_read += len(data)
        return data  # type: ignore[no-any-return]

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        lines, total = [], 0
        line = self.readline()
        while line:
            lines.append(line)
            total += len(line)
            if 0 < sizehint <= total:
                break
            line = self.readline()
        return lines

    def close(self) -> None:
        self.rfile.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rfile, name)

    def __iter__(self) -> ByteCountWrapper:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class StatsTool(Tool):
    """``tools.cpstats``: record each request in ``appstats`` (its start when the
    tool is set up, its end at ``on_end_request``)."""

    def __init__(self) -> None:
        super().__init__("on_end_request", self.record_stop)

    def _setup(self) -> None:
        if appstats.get("Enabled", False):
            super()._setup()
            self.record_start()

    def record_start(self) -> None:
        """Count the request and note it in ``appstats['Requests']``."""
        request = context.request_or_raise()
        body = request.body
        if not hasattr(body.fp, "bytes_read"):
            body.fp = ByteCountWrapper(body.fp)
        remote = request.remote
        with _lock:
            appstats["Current Requests"] += 1
            appstats["Total Requests"] += 1
            appstats["Requests"][threading.get_ident()] = {
                "Bytes Read": None,
                "Bytes Written": None,
                "Client": lambda s: f"{remote.ip}:{remote.port}",
                "End Time": None,
                "Processing Time": proc_time,
                "Request-Line": request.request_line,
                "Response Status": None,
                "Start Time": time.time(),
            }

    def record_stop(
        self,
        uriset: str | None = None,
        slow_queries: float = 1.0,
        slow_queries_count: int = 100,
        debug: bool = False,
        **kwargs: Any,
    ) -> None:
        """Complete the request's record: bytes, status, time; per ``uriset``
        timings; the last ``slow_queries_count`` requests slower than
        ``slow_queries`` seconds."""
        request = context.request_or_raise()
        response = context.response_or_raise()
        record = appstats["Requests"].get(threading.get_ident())
        if record is None:
            return
        fp = request.__dict__["body"].fp if "body" in request.__dict__ else None
        read = getattr(fp, "bytes_read", 0)
        if response.stream:
            written: Any = "chunked"
        else:
            body = response.body
            written = len(body) if isinstance(body, bytes) else 0
        record["Bytes Read"] = read
        record["Bytes Written"] = written
        record["Response Status"] = response.output_status.decode()
        record["End Time"] = end = time.time()
        elapsed = end - record["Start Time"]
        record["Processing Time"] = elapsed
        with _lock:
            appstats["Total Bytes Read"] += read
            if isinstance(written, int):
                appstats["Total Bytes Written"] += written
            appstats["Total Time"] += elapsed
            appstats["Current Requests"] -= 1
            if uriset:
                sets = appstats.setdefault("URI Set Tracking", {})
                entry = sets.setdefault(
                    uriset,
                    {"Min": None, "Max": None, "Count": 0, "Sum": 0, "Avg": average_uriset_time},
                )
                if entry["Min"] is None or elapsed < entry["Min"]:
                    entry["Min"] = elapsed
                if entry["Max"] is None or elapsed > entry["Max"]:
                    entry["Max"] = elapsed
                entry["Count"] += 1
                entry["Sum"] += elapsed
            if slow_queries and elapsed > slow_queries:
                slow = appstats.setdefault("Slow Queries", [])
                slow.append(dict(record))
                if len(slow) > slow_queries_count:
                    del slow[: len(slow) - slow_queries_count]

    def arguments(self) -> tuple[set[str], bool]:
        return {"on", "priority", "uriset", "slow_queries", "slow_queries_count", "debug"}, False


def locale_date(v: float) -> str:
    return time.strftime("%c", time.gmtime(v))


def iso_format(v: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(v))


def _cell(value: Any, fmt: Any) -> str:
    if callable(fmt):
        value = fmt(value)
    elif fmt is not None:
        value = fmt % value
    return _escape_html(str(value))


_STYLE = (
    "th, td {padding: 0.25em 0.5em; border: 1px solid #666699;}\n"
    "table {border-collapse: collapse;}\n"
    "table.stats1 {width: 100%;}\n"
    "table.stats1 th {font-weight: bold; text-align: right; background-color: #CCD5DD;}\n"
    "table.stats2, h2 {margin-left: 50px;}\n"
    "table.stats2 th {font-weight: bold; text-align: center; background-color: #CCD5DD;}\n"
)


class StatsPage:
    """A page handler showing ``logging.statistics`` (mount it anywhere)."""

    #: Per namespace, per key: a format string or function for the value; None
    #: hides the key.
    formatting: dict[str, dict[str, Any]] = {
        "CherryPy Applications": {
            "Enabled": lambda v: (v and "Yes") or "No",
            "Bytes Read/Request": "%.3f",
            "Bytes Read/Second": "%.3f",
            "Bytes Written/Request": "%.3f",
            "Bytes Written/Second": "%.3f",
            "Current Time": iso_format,
            "Requests/Second": "%.3f",
            "Start Time": iso_format,
            "Total Time": "%.3f",
            "Uptime": "%.3f",
            "Slow Queries": {
                "End Time": None,
                "Processing Time": "%.3f",
                "Start Time": iso_format,
            },
            "URI Set Tracking": {
                "Avg": "%.3f",
                "Max": "%.3f",
                "Min": "%.3f",
                "Sum": "%.3f",
            },
            "Requests": {
                "Bytes Read": "%s",
                "Bytes Written": "%s",
                "End Time": None,
                "Processing Time": "%.3f",
                "Start Time": None,
            },
        },
    }

    @expose
    def index(self) -> str:
        parts = [
            "<html>\n<head>\n    <title>Statistics</title>\n<style>\n",
            _STYLE,
            "</style>\n</head>\n<body>\n",
        ]
        stats = logging.statistics  # type: ignore[attr-defined]
        for title in sorted(stats):
            scope = extrapolate_statistics(stats[title])
            formatting = self.formatting.get(title, {})
            parts.append(f"<h1>{_escape_html(title)}</h1>\n{self._pause_resume(title, scope)}")
            parts.append("<table class='stats1'>\n    <tbody>\n")
            collections = []
            for key in sorted(scope):
                value = scope[key]
                fmt = formatting.get(key)
                if isinstance(value, (dict, list)):
                    collections.append((key, value, fmt if isinstance(fmt, dict) else {}))
                    continue
                if key in formatting and fmt is None:
                    continue
                parts.append(
                    f"        <tr><th>{_escape_html(key)}</th>"
                    f"<td id='{_escape_html(title)}-{_escape_html(key)}'>{_cell(value, fmt)}</td>"
                    "</tr>\n"
                )
            parts.append("    </tbody>\n</table>\n")
            for key, value, fmt in collections:
                parts.append(self._collection(key, value, fmt))
        parts.append("</body>\n</html>\n")
        return "".join(parts)

    @staticmethod
    def _pause_resume(namespace: str, scope: dict[str, Any]) -> str:
        if "Enabled" not in scope:
            return ""
        enabled = bool(scope["Enabled"])
        ns = _escape_html(namespace, quote=True)
        return (
            f'<form action="pause" method="POST" style="display:inline">'
            f'<input type="hidden" name="namespace" value="{ns}" />'
            f'<input type="submit" value="Pause" {"" if enabled else "disabled"}/></form>\n'
            f'<form action="resume" method="POST" style="display:inline">'
            f'<input type="hidden" name="namespace" value="{ns}" />'
            f'<input type="submit" value="Resume" {"disabled" if enabled else ""}/></form>\n'
        )

    @staticmethod
    def _collection(title: str, value: Any, formatting: dict[str, Any]) -> str:
        records = list(value.values()) if isinstance(value, dict) else list(value)
        keys = list(value.keys()) if isinstance(value, dict) else None
        headers = sorted(
            {k for r in records if isinstance(r, dict) for k in r}
            - {k for k, f in formatting.items() if f is None}
        )
        out = [f"<h2>{_escape_html(title)}</h2>\n<table class='stats2'>\n    <thead>\n<tr>"]
        if keys is not None:
            out.append("<th>ID</th>")
        out.extend(f"<th>{_escape_html(h)}</th>" for h in headers)
        out.append("</tr>\n    </thead>\n    <tbody>\n")
        for i, record in enumerate(records):
            out.append("<tr>")
            if keys is not None:
                out.append(f"<td>{_escape_html(str(keys[i]))}</td>")
            if isinstance(record, dict):
                out.extend(
                    f"<td>{_cell(record.get(h, ''), formatting.get(h))}</td>" for h in headers
                )
            else:
                out.append(f"<td>{_escape_html(str(record))}</td>")
            out.append("</tr>\n")
        out.append("    </tbody>\n</table>\n")
        return "".join(out)

    @expose
    def data(self) -> bytes:
        """The statistics as JSON."""
        stats = extrapolate_statistics(logging.statistics)  # type: ignore[attr-defined]
        context.response_or_raise().headers["Content-Type"] = "application/json"
        return json.dumps(stats, sort_keys=True, indent=4, default=str).encode("utf-8")

    @expose
    def pause(self, namespace: str) -> None:
        logging.statistics.get(namespace, {})["Enabled"] = False  # type: ignore[attr-defined]
        raise HTTPRedirect("./")

    pause._cp_config = {"tools.allow.on": True, "tools.allow.methods": ["POST"]}  # type: ignore[attr-defined]

    @expose
    def resume(self, namespace: str) -> None:
        logging.statistics.get(namespace, {})["Enabled"] = True  # type: ignore[attr-defined]
        raise HTTPRedirect("./")

    resume._cp_config = {"tools.allow.on": True, "tools.allow.methods": ["POST"]}  # type: ignore[attr-defined]
