"""``sys.modules["cherrypy"] = cherrypy_rs``: make ``import cherrypy.X`` give the module
``cherrypy_rs.X`` itself, not a second copy loaded under another name (a copy would
have classes of its own: ``cherrypy.process.wspbus.Bus`` would not be the engine's
class).

A finder on ``sys.meta_path`` that answers only for names under a top-level name that
``sys.modules`` maps to this package; it does nothing otherwise, and starts nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

PACKAGE = __name__.rpartition(".")[0]


# The finder and loader follow importlib's protocols without its abc classes:
# importlib.abc imports importlib.resources, tempfile and shutil (~2.5 MiB per process).
class _Loader:
    """Hands back the already imported ``cherrypy_rs`` module."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__
        self.loader = getattr(module, "__loader__", None)

    def create_module(self, spec: Any) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the alias spec on it: put the real one back.
        module.__spec__ = self.spec
        module.__loader__ = self.loader


class AliasFinder:
    """``<alias>.X`` → ``cherrypy_rs.X`` when ``sys.modules[<alias>]`` is cherrypy_rs."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        root, _, rest = fullname.partition(".")
        if not rest or root == PACKAGE:
            return None
        package = sys.modules.get(PACKAGE)
        if package is None or sys.modules.get(root) is not package:
            return None
        try:
            real = importlib.import_module(f"{PACKAGE}.{rest}")
        except ImportError:
            return None
        return importlib.util.spec_from_loader(fullname, _Loader(real))  # type: ignore[arg-type]


def install() -> None:
    """Add the finder once (ahead of the path finder)."""
    if not any(isinstance(f, AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
