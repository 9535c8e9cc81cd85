"""Type-checked by mypy in ``make lint`` (pytest does not collect it): the public API
keeps its types for editors and type checkers. ``assert_type`` fails the lint when a
type is lost: ``@expose`` returns the decorated function unchanged, and
``cherrypy.request`` / ``cherrypy.response`` are typed as the objects they stand for.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

import cherrypy_rs as cherrypy
from cherrypy_rs.lib.httputil import HeaderMap


class Root:
    @cherrypy.expose
    def index(self, n: int = 1) -> str:
        return "x" * n

    @cherrypy.expose()
    def called(self) -> int:
        return 1

    @cherrypy.expose("alias.name")
    def aliased(self) -> bytes:
        return b""

    @cherrypy.expose(["a", "b"])
    def several(self, *, q: str = "") -> list[str]:
        return [q]


@cherrypy.expose
class Exposed:
    def __call__(self) -> str:
        return ""


def handler_types() -> None:
    root = Root()
    assert_type(root.index(2), str)
    assert_type(root.called(), int)
    assert_type(root.aliased(), bytes)
    assert_type(root.several(q="x"), list[str])
    assert_type(Exposed()(), str)


def context_types() -> None:
    assert_type(cherrypy.request.method, str)
    assert_type(cherrypy.request.path_info, str)
    assert_type(cherrypy.request.headers, HeaderMap)
    assert_type(cherrypy.request.params, dict[str, Any])
    assert_type(cherrypy.request.protocol, tuple[int, int])
    assert_type(cherrypy.response.headers, HeaderMap)
    # CherryPy's idiom: applications and tools keep their own attributes on the request.
    cherrypy.request.user = {"id": 1}
