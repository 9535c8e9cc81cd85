"""``cherrypy.lib.gctools``: find reference leaks.

``GCRoot`` is a page handler (``root.gc = gctools.GCRoot()``): ``/gc/stats`` collects
garbage, then reports uncollectable objects and any ``Request``/``Response`` objects
alive besides the ones of the request asking (with who refers to them, through
``ReferrerTree``). A report of only ``Statistics:`` means no leak was seen.

cherrypy_rs keeps no request object in the main thread (CherryPy keeps one there), so
exactly one ``Request`` and one ``Response`` are expected: the current request's.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from ..helper import expose
from ..objects import Request, Response


class ReferrerTree:
    """The referrers of an object, to ``maxdepth`` levels (at most ``maxparents``
    per object)."""

    peek_length = 40

    def __init__(self, ignore: list[Any] | None = None, maxdepth: int = 2, maxparents: int = 10):
        # Lazy: inspect costs ~2.6 MiB per process; only the gc diagnostics needs it.
        import inspect

        self.ignore = ignore or []
        self.ignore.append(inspect.currentframe().f_back)  # type: ignore[union-attr]
        self.maxdepth = maxdepth
        self.maxparents = maxparents

    def ascend(self, obj: Any, depth: int = 1) -> list[tuple[Any, list[Any]]]:
        """A nested list of ``(referrer, its referrers)`` of ``obj``."""
        # Lazy: inspect costs ~2.6 MiB per process; only the gc diagnostics needs it.
        import inspect

        depth += 1
        refs = gc.get_referrers(obj)
        self.ignore.append(refs)
        if len(refs) > self.maxparents:
            return [(f"[{len(refs)} referrers]", [])]
        parents: list[tuple[Any, list[Any]]] = []
        own_code = ReferrerTree.ascend.__code__
        for parent in refs:
            if inspect.isframe(parent) and parent.f_code is own_code:
                continue
            if any(parent is ignored for ignored in self.ignore):
                continue
            below = self.ascend(parent, depth) if depth <= self.maxdepth else []
            parents.append((parent, below))
        return parents

    def peek(self, s: str) -> str:
        """``s`` cut to ``peek_length`` characters (its two ends)."""
        if len(s) > self.peek_length + 3:
            half = self.peek_length // 2
            return s[:half] + "..." + s[-half:]
        return s

    def _format(self, obj: Any, descend: bool = True) -> str:
        # Lazy: inspect costs ~2.6 MiB per process; only the gc diagnostics needs it.
        import inspect

        if inspect.isframe(obj):
            return f"<frame of function '{obj.f_code.co_name}'>"
        if not descend:
            return self.peek(repr(obj))
        if isinstance(obj, dict):
            items = ", ".join(
                f"{self._format(k, False)}: {self._format(v, False)}" for k, v in obj.items()
            )
            return "{" + items + "}"
        if isinstance(obj, list):
            return "[" + ", ".join(self._format(item, False) for item in obj) + "]"
        if isinstance(obj, tuple):
            return "(" + ", ".join(self._format(item, False) for item in obj) + ")"
        text = self.peek(repr(obj))
        if isinstance(obj, (str, int, float)):
            return text
        return f"{type(obj)}: {text}"

    def format(self, tree: list[tuple[Any, list[Any]]]) -> list[str]:
        """The tree as indented lines."""
        output: list[str] = []

        def walk(branch: list[tuple[Any, list[Any]]], depth: int = 1) -> None:
            for parent, grandparents in branch:
                output.append("    " * depth + self._format(parent))
                if grandparents:
                    walk(grandparents, depth + 1)

        walk(tree)
        return output


def get_instances(cls: type) -> list[Any]:
    """Every live object of ``cls`` the collector tracks."""
    return [x for x in gc.get_objects() if isinstance(x, cls)]


def get_context(obj: Any) -> str:
    """A short description of a request-related object."""
    if isinstance(obj, Request):
        return f"path={obj.path_info};stage={obj.stage}"
    if isinstance(obj, Response):
        return f"status={obj.status}"
    if hasattr(obj, "tb_lineno"):
        return f"tb_lineno={obj.tb_lineno}"
    return ""


class GCRoot:
    """A page handler reporting reference leaks (``/stats``)."""

    #: (class, fewest expected, most expected, why).
    classes: list[tuple[type, int, int, str]] = [
        (Request, 1, 1, "Should be 1: the request asking for the statistics."),
        (Response, 1, 1, "Should be 1: the request asking for the statistics."),
    ]

    @expose
    def index(self) -> str:
        return "Hello, world!"

    @expose
    def stats(self) -> str:
        output = ["Statistics:"]
        gc.collect()
        gc.collect()
        unreachable = gc.collect()
        if unreachable:
            counts: dict[type, int] = {}
            for x in gc.garbage:
                counts[type(x)] = counts.get(type(x), 0) + 1
            if counts:
                output.insert(0, f"\n{unreachable} unreachable objects:")
                for cls, n in sorted(counts.items(), key=lambda kv: (kv[1], str(kv[0]))):
                    output.append(f"    {(n, cls)!r}")
        found = {cls: get_instances(cls) for cls, _, _, _ in self.classes}
        for cls, fewest, most, _why in self.classes:
            objs = found[cls]
            if fewest <= len(objs) <= most:
                continue
            expected = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            output.append(f"\nExpected {expected} {cls!r} references, got {len(objs)}.")
            for obj in objs:
                output.append(
                    f"\nReferrers for {obj!r} ({get_context(obj)}, "
                    f"refcount={sys.getrefcount(obj)}):"
                )
                tree = ReferrerTree(ignore=[objs, found], maxdepth=3)
                output.extend(tree.format(tree.ascend(obj)))
        return "\n".join(output)
