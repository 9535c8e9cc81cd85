"""``cherrypy.lib.covercp``: browse the code coverage of a running site.

As in CherryPy, tracing starts with ``cherrypy.engine.subscribe('start', covercp.start)``
(once, in the main thread: coverage.py traces every thread from there), and the results
are browsed with ``covercp.serve()`` (or ``python -m cherrypy_rs.lib.covercp [data file]
[port] [root]``), which mounts ``CoverStats``. Needs the ``coverage`` package.

The pages are cherrypy_rs's own: ``index`` lists the measured files below ``root`` with
their percentage (``menu`` is the same list, with CherryPy's ``base``/``pct``/
``exclude`` filters), ``report?name=...`` shows one file with its covered, missed and
excluded lines. Unlike CherryPy's, ``report`` only shows files coverage.py measured
below ``root``: any other name is a 404, so the page cannot be used to read files.
"""

from __future__ import annotations

import html
import os
import re
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from typing import Any

from .. import context
from ..errors import NotFound
from ..helper import expose

__all__ = ["CoverStats", "localFile", "serve", "start", "the_coverage"]

#: Where the coverage data goes (CherryPy keeps it inside its package, which may not be
#: writable; here it is in the temp directory).
localFile = os.path.join(tempfile.gettempdir(), "cherrypy_rs-coverage.cache")

try:
    # Optional: covercp is a development tool; the coverage package is not a dependency.
    import coverage as _coverage
except ImportError:  # pragma: no cover - depends on the environment
    _coverage = None  # type: ignore[assignment]

#: The ``coverage.Coverage`` that ``start()`` runs (None without coverage.py).
the_coverage: Any = _coverage.Coverage(data_file=localFile) if _coverage is not None else None


def start() -> None:
    """Start (or restart, clearing what was gathered) coverage tracing of all threads.
    Does nothing when coverage.py is not installed, as in CherryPy."""
    if the_coverage is not None:
        the_coverage.start()


def _percent(statements: list[int], missing: list[int]) -> int:
    covered = len(statements) - len(missing)
    return round(100.0 * covered / len(statements)) if statements else 100


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; font-size: 0.9em; }}
table {{ border-collapse: collapse; }}
td {{ padding: 0 0.5em; }}
.pct {{ text-align: right; }}
.low {{ color: #a00; }}
pre {{ margin: 0; }}
tr.covered {{ background: #dfd; }}
tr.missed {{ background: #fdd; }}
tr.excluded {{ color: #888; }}
</style></head><body>
"""


class CoverStats:
    """The coverage browser: mount it (``serve()`` does) and open ``/``.

    ``coverage`` is a ``coverage.Coverage`` holding data (running, or loaded from a
    data file); ``root`` the directory whose files are listed (default: the directory
    that holds cherrypy_rs, as CherryPy defaults to its own)."""

    def __init__(self, coverage: Any, root: str | None = None) -> None:
        self.coverage = coverage
        if root is None:
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.root = os.path.abspath(root)

    def _measured(self) -> list[str]:
        data = self.coverage.get_data()
        prefix = self.root.rstrip(os.sep) + os.sep
        return sorted(f for f in data.measured_files() if f.startswith(prefix))

    @expose
    def index(self) -> Iterator[str]:
        """Every measured file below ``root`` with its percentage."""
        return self.menu()

    @expose
    def menu(
        self,
        base: str = "",
        pct: str = "50",
        showpct: str = "checked",
        exclude: str = r"python\d\.\d+|test|tut\d|tutorial",
    ) -> Iterator[str]:
        """The measured files below ``root`` (and below ``base`` when given), without
        those whose path below ``root`` matches ``exclude``; percentages under ``pct``
        are marked."""
        try:
            threshold = int(pct)
            skip = re.compile(exclude) if exclude else None
        except (ValueError, re.error) as exc:
            raise NotFound() from exc
        yield _PAGE.format(title="Coverage")
        yield f"<h1>Coverage of {html.escape(self.root)}</h1>\n<table>\n"
        base_dir = os.path.abspath(base) if base else self.root
        shown = 0
        for name in self._measured():
            # ``exclude`` is matched below root: the root's own path (a checkout in
            # ".../tests/...") must not hide everything.
            if not name.startswith(base_dir) or (
                skip and skip.search(os.path.relpath(name, self.root))
            ):
                continue
            _, statements, _, missing, _ = self.coverage.analysis2(name)
            percent = _percent(statements, missing)
            low = ' class="pct low"' if percent < threshold else ' class="pct"'
            link = "report?name=" + urllib.parse.quote_plus(name)
            label = html.escape(os.path.relpath(name, self.root))
            cell = f"<td{low}>{percent}%</td>" if showpct else ""
            yield f'<tr>{cell}<td><a href="{html.escape(link)}">{label}</a></td></tr>\n'
            shown += 1
        yield "</table>\n"
        if not shown:
            yield "<p>No modules covered.</p>\n"
        yield "</body></html>\n"

    @expose
    def report(self, name: str) -> Iterator[str]:
        """One measured file, line by line: covered, missed, excluded."""
        if name not in self._measured():
            raise NotFound()
        filename, statements, excluded, missing, _ = self.coverage.analysis2(name)
        covered_pct = _percent(statements, missing)
        yield _PAGE.format(title=html.escape(os.path.basename(name)))
        yield f"<h1>{html.escape(name)}: {covered_pct}% covered</h1>\n<table>\n"
        stmts, miss, excl = set(statements), set(missing), set(excluded)
        with open(filename, encoding="utf-8", errors="replace") as source:
            for lineno, line in enumerate(source, 1):
                kind = (
                    "missed"
                    if lineno in miss
                    else "excluded"
                    if lineno in excl
                    else "covered"
                    if lineno in stmts
                    else ""
                )
                text = html.escape(line.rstrip("\r\n"))
                yield f'<tr class="{kind}"><td>{lineno}</td><td><pre>{text}</pre></td></tr>\n'
        yield "</table></body></html>\n"


def serve(path: str = localFile, port: int | str = 8080, root: str | None = None) -> None:
    """Serve the coverage data in ``path`` on 127.0.0.1:``port`` until stopped."""
    if _coverage is None:
        raise ImportError("covercp needs coverage.py: pip install coverage")
    cov = _coverage.Coverage(data_file=path)
    cov.load()
    context.site.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": int(port),
            "server.thread_pool": 10,
            "environment": "production",
        }
    )
    context.site.quickstart(CoverStats(cov, root))


if __name__ == "__main__":
    serve(*sys.argv[1:])
