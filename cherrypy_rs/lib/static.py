"""Serving static files (``cherrypy.lib.static``), with CherryPy's signatures.

``serve_file()`` returns a body that the Rust server sends: it opens the file, answers
conditional requests (``If-None-Match``, ``If-Modified-Since`` → 304; ``If-Match``,
``If-Unmodified-Since`` → 412), ranges (206, ``multipart/byteranges``, 416) and ``HEAD``,
and streams the bytes without holding the interpreter.

``staticdir()`` and ``staticfile()`` are the ``tools.staticdir`` / ``tools.staticfile``
handlers for requests that go through Python. Most never do: a config section that turns
either tool on is compiled into a Rust route when the application is mounted (see
``cherrypy_rs._staticroutes``); these functions serve the rest the same way.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat
import unicodedata
import urllib.parse
from typing import Any

from .. import _core
from ..context import request_or_raise, response_or_raise
from ..errors import HTTPError, HTTPRedirect, NotFound
from ..helper import url
from . import httputil

#: The body type ``serve_file``/``serve_fileobj`` return.
StaticFile = _core.StaticFile


def _setup_mimetypes() -> None:
    """CherryPy's additions to the global mimetype map."""
    if not mimetypes.inited:
        mimetypes.init()
    mimetypes.types_map[".dwg"] = "image/x-dwg"
    mimetypes.types_map[".ico"] = "image/x-icon"
    mimetypes.types_map[".bz2"] = "application/x-bzip2"
    mimetypes.types_map[".gz"] = "application/x-gzip"


_setup_mimetypes()

#: The type of a file whose extension names none (CherryPy leaves ``text/html``, which
#: lets a browser render an uploaded file as a page).
DEFAULT_TYPE = "application/octet-stream"


def guess_type(path: str) -> str:
    """The content type of ``path`` by its extension, as CherryPy guesses it."""
    ext = os.path.splitext(path)[1].lower()
    return mimetypes.types_map.get(ext) or DEFAULT_TYPE


def _make_content_disposition(disposition: str, file_name: str) -> str:
    """A Content-Disposition value with an ASCII ``filename`` and, when the name is not
    ASCII, a UTF-8 ``filename*`` (RFC 6266 appendix D)."""
    ascii_name = unicodedata.normalize("NFKC", file_name).encode("ascii", errors="ignore").decode()
    header = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != file_name:
        header += f"; filename*=UTF-8''{urllib.parse.quote(file_name)}"
    return header


def _response() -> Any:
    return response_or_raise()


def serve_file(
    path: str,
    content_type: str | None = None,
    disposition: str | None = None,
    name: str | None = None,
    debug: bool = False,
) -> Any:
    """Set the headers and body to serve the file at ``path`` (an absolute path).

    ``Content-Type`` is ``content_type`` or guessed from the extension. With a
    ``disposition`` ("attachment", "inline") a ``Content-Disposition`` header names the
    file (``name``, default its basename). A missing file or a directory raises
    ``NotFound``. Returns the body (also set as ``response.body``); return it from the
    page handler.
    """
    if not os.path.isabs(path):
        raise ValueError(f"'{path}' is not an absolute path.")
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        raise NotFound() from None
    if stat.S_ISDIR(st.st_mode):
        raise NotFound()
    response = _response()
    response.headers["Last-Modified"] = httputil.HTTPDate(st.st_mtime)
    content_type = content_type or guess_type(path)
    response.headers["Content-Type"] = content_type
    if disposition is not None:
        response.headers["Content-Disposition"] = _make_content_disposition(
            disposition, name if name is not None else os.path.basename(path)
        )
    _check_range(st.st_size)
    # The parts of a multipart/byteranges reply name this type, as CherryPy's do (a tool
    # may add a charset to the response's Content-Type later).
    response.body = StaticFile(path, content_type)
    return response.body


def serve_fileobj(
    fileobj: Any,
    content_type: str | None = None,
    disposition: str | None = None,
    name: str | None = None,
    debug: bool = False,
) -> Any:
    """Set the headers and body to serve an open file object (from its start).

    A real file is sent by Rust from its descriptor (ranges and validators as for
    ``serve_file``); another file-like object is read whole first. The object is closed
    once it has been taken over.
    """
    response = _response()
    try:
        fd = fileobj.fileno()
        os.fstat(fd)
    except (AttributeError, OSError, ValueError, TypeError):
        data = fileobj.read()
        body = StaticFile.from_bytes(data.encode() if isinstance(data, str) else data)
    else:
        _check_range(os.fstat(fd).st_size)
        body = StaticFile.from_fd(fd)
    close = getattr(fileobj, "close", None)
    if close is not None:
        close()
    if content_type is not None:
        response.headers["Content-Type"] = content_type
    if disposition is not None:
        response.headers["Content-Disposition"] = (
            disposition if name is None else _make_content_disposition(disposition, name)
        )
    response.body = body
    return body


def _check_range(length: int) -> None:
    """CherryPy's 416 error page for a Range that names no byte of the file (the rest
    of the range handling is done by Rust when the body is sent)."""
    request = request_or_raise()
    if request.protocol < (1, 1):
        return
    headers = request.headers
    value = headers.get("Range")
    if value and "If-Range" not in headers and _core.range_unsatisfiable(value, length):
        _response().headers["Content-Range"] = f"bytes */{length}"
        raise HTTPError(416, "Invalid Range (first-byte-pos greater than Content-Length)")


def serve_download(path: str, name: str | None = None) -> Any:
    """Serve ``path`` as an ``application/x-download`` attachment."""
    return serve_file(path, "application/x-download", "attachment", name)


def _content_type(path: str, content_types: dict[str, str] | None) -> str | None:
    if not content_types:
        return None
    ext = os.path.splitext(path)[1][1:]
    return content_types.get(ext)


def _request() -> Any:
    return request_or_raise()


def static_path(path: Any, root: Any, what: str) -> str:
    """The absolute path that a ``tools.staticdir.dir`` or ``tools.staticfile.filename``
    setting names: ``~`` expanded, a relative ``path`` joined to ``root``. Raises
    ValueError, starting with ``what`` (the setting), when it names nothing, or is
    relative without a ``root``, or ``root`` itself is relative (CherryPy would fail on
    every request then). Strings and ``os.PathLike`` objects are accepted.

    The one rule for both sides (a cherrypy_rs addition): the Rust routes compiled from
    the config (``cherrypy_rs._staticroutes``) and ``staticdir``/``staticfile`` below.
    """
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{what} is on but has no path: set it to the path to serve")
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    if isinstance(root, os.PathLike):
        root = os.fspath(root)
    if not root:
        raise ValueError(f"{what} {path!r} is relative: make it absolute or set the tool's root")
    if not isinstance(root, str):
        raise ValueError(f"{what}: the tool's root {root!r} is not a path")
    root = os.path.expanduser(root)
    if not os.path.isabs(root):
        raise ValueError(
            f"{what} {path!r} is relative to the tool's root {root!r}, which is relative "
            "too: make the root absolute"
        )
    return os.path.join(root, path)


def staticdir(
    section: str,
    dir: str,
    root: str = "",
    match: str = "",
    content_types: dict[str, str] | None = None,
    index: str = "",
    debug: bool = False,
    dotfiles: bool = True,
    precompressed: bool = False,
    cache_valid: float = 1.0,
) -> bool:
    """Serve the file below ``dir`` that the request's path names below ``section``.

    Returns False (so that the page handler runs) for methods other than GET and HEAD,
    paths that do not match ``match``, and files that are not there. A path that leaves
    ``dir`` is refused with 403; a directory is served by its ``index`` file, after a
    301 that adds the trailing slash. ``precompressed`` (``X.br``/``X.gz`` next to ``X``)
    and ``cache_valid`` (seconds a file's metadata is cached) are the Rust route's; where
    a section cannot be compiled into one, this function serves the file itself,
    uncompressed and uncached.
    """
    request = _request()
    if request.method not in ("GET", "HEAD"):
        return False
    if match and not re.search(match, request.path_info):
        return False
    directory = static_path(dir, root, f"[{section}] tools.staticdir.dir")
    if section == "global":
        section = "/"
    section = section.rstrip("\\/")
    branch = request.path_info[len(section) :]
    kind, found = _core.lookup_static(
        directory, branch, index=index or None, dotfiles=dotfiles, decoded=True
    )
    if kind == "forbidden":
        raise HTTPError(403)
    if kind == "redirect":
        raise HTTPRedirect(url(request.path_info + "/", request.query_string), 301)
    if kind != "file" or found is None:
        return False
    if index and branch.endswith("/"):
        request.is_index = True
    serve_file(found, content_type=_content_type(found, content_types))
    return True


def staticfile(
    filename: str,
    root: str | None = None,
    match: str = "",
    content_types: dict[str, str] | None = None,
    debug: bool = False,
    precompressed: bool = False,
    cache_valid: float = 1.0,
) -> bool:
    """Serve the single file ``filename`` (under ``root`` when relative); False when
    the method is not GET/HEAD, ``match`` does not match or the file is missing.
    ``precompressed`` and ``cache_valid`` are the Rust route's, as for ``staticdir``."""
    request = _request()
    if request.method not in ("GET", "HEAD"):
        return False
    if match and not re.search(match, request.path_info):
        return False
    path = static_path(filename, root, "tools.staticfile.filename")
    try:
        serve_file(path, content_type=_content_type(path, content_types))
    except NotFound:
        return False
    return True
