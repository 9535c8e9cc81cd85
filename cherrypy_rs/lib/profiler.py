"""``cherrypy.lib.profiler``: profile page handlers (or a WSGI app) with cProfile and
browse the results.

``Profiler(path).run(func, *args)`` calls ``func`` under the profiler and writes its
statistics to ``path/cp_NNNN.prof``; mounted as a page handler, a ``Profiler`` lists
those files (``menu``) and shows one (``report?filename=...``). ``ProfileAggregator``
accumulates every call into one file; ``make_app(wsgi_app, path, aggregate)`` profiles
each request to a WSGI application.

The default ``path`` is ``<temp dir>/cherrypy_rs-profile`` (CherryPy writes into its own
package directory, which may not be writable).
"""

from __future__ import annotations

import cProfile
import io
import itertools
import os
import pstats
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import context
from ..helper import expose

_counter = itertools.count(1)


def _default_path() -> str:
    return os.path.join(tempfile.gettempdir(), "cherrypy_rs-profile")


class Profiler:
    """Profiles calls into ``path``; also a page handler showing the results."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or _default_path()
        os.makedirs(self.path, exist_ok=True)

    def _file(self, number: int) -> str:
        return os.path.join(self.path, f"cp_{number:04d}.prof")

    def run(self, func: Callable[..., Any], *args: Any, **params: Any) -> Any:
        """Call ``func`` under the profiler; its statistics go to a new file."""
        prof = cProfile.Profile()
        result = prof.runcall(func, *args, **params)
        prof.dump_stats(self._file(next(_counter)))
        return result

    def statfiles(self) -> list[str]:
        """The profile files in ``path``."""
        return [f for f in os.listdir(self.path) if f.startswith("cp_") and f.endswith(".prof")]

    def stats(self, filename: str, sortby: str = "cumulative") -> str:
        """``print_stats()`` of one profile file, as text."""
        name = os.path.basename(filename)
        if name not in self.statfiles():
            raise ValueError(f"{filename!r} is not a profile file of {self.path}")
        out = io.StringIO()
        stats = pstats.Stats(os.path.join(self.path, name), stream=out)
        stats.strip_dirs().sort_stats(sortby).print_stats()
        return out.getvalue()

    @expose
    def index(self) -> str:
        return (
            "<html>\n<head><title>CherryPy profile data</title></head>\n"
            "<frameset cols='200, 1*'>\n<frame src='menu' />\n<frame name='main' src='' />\n"
            "</frameset>\n</html>\n"
        )

    @expose
    def menu(self) -> Iterator[str]:
        yield "<h2>Profiling runs</h2>"
        yield "<p>Click on one of the runs below to see profiling data.</p>"
        for name in sorted(self.statfiles()):
            yield f"<a href='report?filename={name}' target='main'>{name}</a><br />"

    @expose
    def report(self, filename: str) -> str:
        context.response_or_raise().headers["Content-Type"] = "text/plain"
        return self.stats(filename)


class ProfileAggregator(Profiler):
    """A profiler whose calls all accumulate into one file."""

    def __init__(self, path: str | None = None) -> None:
        super().__init__(path)
        self.count = next(_counter)
        self.profiler = cProfile.Profile()

    def run(self, func: Callable[..., Any], *args: Any, **params: Any) -> Any:
        result = self.profiler.runcall(func, *args, **params)
        self.profiler.dump_stats(self._file(self.count))
        return result


class make_app:
    """WSGI middleware profiling each request to ``nextapp`` (into one file per request,
    or one for all with ``aggregate``)."""

    def __init__(self, nextapp: Any, path: str | None = None, aggregate: bool = False) -> None:
        self.nextapp = nextapp
        self.aggregate = aggregate
        self.profiler = ProfileAggregator(path) if aggregate else Profiler(path)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def gather() -> list[bytes]:
            return list(self.nextapp(environ, start_response))

        return self.profiler.run(gather)  # type: ignore[no-any-return]


def serve(path: str | None = None, port: int = 8080) -> None:
    """Serve the profile browser on ``port``."""
    site = context.site
    site.config.update(
        {"server.socket_port": int(port), "server.thread_pool": 10, "environment": "production"}
    )
    site.quickstart(Profiler(path))
