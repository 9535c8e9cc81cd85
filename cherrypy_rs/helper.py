"""``expose`` and ``url`` (``cherrypy._helper``)."""

from __future__ import annotations

import sys
import types
import urllib.parse
from collections.abc import Iterable
from typing import Any, Callable, TypeVar, Union, cast, overload

from . import context

F = TypeVar("F", bound=Callable[..., Any])

_DECORATABLE = (types.FunctionType, types.MethodType, type)

#: What ``@expose(...)`` takes as aliases: a name, or several.
Aliases = Union[str, bytes, Iterable[Union[str, bytes]]]


@overload
def expose(func: F, alias: Aliases | None = None) -> F: ...
@overload
def expose(func: Aliases | None = None, alias: None = None) -> Callable[[F], F]: ...


def expose(func: Any = None, alias: Any = None) -> Any:
    """Expose a page handler (or a class) to the object dispatcher.

    Use as ``@expose``, ``@expose()``, ``@expose("alias")`` or
    ``@expose(["a", "b"])``: each alias (with "." turned into "_") becomes another
    attribute of the enclosing class that points at the same handler. The decorated
    function (or class) is returned unchanged, with its type.
    """

    def add_aliases(f: Any, names: Any, namespace: dict[str, Any]) -> Any:
        f.exposed = True
        if names is not None:
            for name in [names] if isinstance(names, (str, bytes)) else names:
                if isinstance(name, bytes):
                    name = name.decode("ascii")
                namespace[name.replace(".", "_")] = f
        return f

    # The aliases are written into the namespace of the class being defined: the caller's
    # frame locals while its body executes.
    if isinstance(func, _DECORATABLE):
        if alias is None:
            cast(Any, func).exposed = True
            return func
        return add_aliases(func, alias, sys._getframe(1).f_locals)
    namespace = sys._getframe(1).f_locals
    if func is not None:
        alias = func
    return lambda f: add_aliases(f, alias, namespace)


def popargs(*args: str, handler: Any = None) -> Callable[..., Any]:
    """Turn leading path segments into named parameters (``@popargs("year", "month")``).

    Decorates a class (adding ``_cp_dispatch``). With ``handler=``, a callable (or class)
    is called with the popped values to produce the next node; any other object is
    returned as the next node with the values added to ``request.params``.
    """
    names = args
    handler_call = handler is not None and (callable(handler) or isinstance(handler, type))

    def decorated(cls_or_self: Any = None, vpath: list[str] | None = None) -> Any:
        if isinstance(cls_or_self, type):
            cast(Any, cls_or_self)._cp_dispatch = decorated
            return cls_or_self
        popped: dict[str, str] = {}
        for name in names:
            if not vpath:
                break
            popped[name] = vpath.pop(0)
        if handler is not None:
            if handler_call:
                return handler(**popped)
            context.request_or_raise().params.update(popped)
            return handler
        context.request_or_raise().params.update(popped)
        if vpath:
            return getattr(cls_or_self, vpath.pop(0), None)
        return cls_or_self

    return decorated


def normalize_path(path: str) -> str:
    """Resolve "." and ".." atoms of a URL path."""
    if "./" not in path:
        return path
    atoms: list[str] = []
    for atom in path.split("/"):
        if atom == ".":
            continue
        if atom == "..":
            if atoms:
                atoms.pop()
        elif atom:
            atoms.append(atom)
    new = "/".join(atoms)
    return "/" + new if path.startswith("/") else new


def url(
    path: str = "",
    qs: Any = "",
    script_name: str | None = None,
    base: str | None = None,
    relative: Any = None,
) -> str:
    """An absolute URL for ``path`` in the current application.

    A path starting with "/" is relative to the application's script_name; other paths
    are relative to the current request's path_info. ``qs`` may be a str, dict or list
    of pairs. ``relative=True`` gives a URL relative to the current page,
    ``relative="server"`` one relative to the server root.
    """
    if isinstance(qs, (tuple, list, dict)):
        qs = urllib.parse.urlencode(qs)
    if qs:
        qs = "?" + qs
    request = context.request_or_none()
    if request is not None and request.app is not None:
        if not path.startswith("/"):
            pi = request.path_info
            if request.is_index is True:
                if not pi.endswith("/"):
                    pi = pi + "/"
            elif request.is_index is False and pi.endswith("/") and pi != "/":
                pi = pi[:-1]
            path = pi if path == "" else urllib.parse.urljoin(pi, path)
        if script_name is None:
            script_name = request.script_name
        if base is None:
            base = request.base
        newurl = base + script_name + normalize_path(path) + qs
    else:
        if base is None:
            base = context.site.server.base()
        newurl = base + normalize_path((script_name or "") + path) + qs

    if relative is None:
        relative = getattr(getattr(request, "app", None), "relative_urls", False)
    if relative == "server":
        newurl = "/" + "/".join(newurl.split("/", 3)[3:])
    elif relative:
        old = url(relative=False).split("/")[:-1]
        new = newurl.split("/")
        while old and new and old[0] == new[0]:
            old.pop(0)
            new.pop(0)
        newurl = "/".join([".."] * len(old) + new)
    return newurl
