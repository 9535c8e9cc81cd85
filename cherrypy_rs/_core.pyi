"""Typed surface of the Rust extension ``cherrypy_rs._core``.

Applications never import this module: ``cherrypy_rs`` wraps it in CherryPy's API.
"""

from collections.abc import Callable
from typing import Any, final

__all__ = [
    "HOP_BY_HOP",
    "SERVER_DEFAULTS",
    "FileBody",
    "Listener",
    "Request",
    "Server",
    "StartResponse",
    "StaticFile",
    "StaticFileInput",
    "StaticRoute",
    "WSGIReply",
    "__version__",
    "lookup_static",
    "range_unsatisfiable",
]

__version__: str

HOP_BY_HOP: frozenset[str]
"""RFC 9110 §7.6.1 hop-by-hop header names (lower case): a WSGI application must not
set them (PEP 3333); the Rust and Python gateways check the same list."""

SERVER_DEFAULTS: dict[str, str | int | float | None]
"""Every ``server.*`` key with its default (CherryPy's, and ours for the cherrypy_rs
keys), defined once in Rust: ``cherrypy.server`` starts from a copy."""

@final
class Request:
    """A request as read by the Rust server; immutable, converted on access."""

    @property
    def method(self) -> str: ...
    @property
    def protocol(self) -> str:
        """ "HTTP/1.1", "HTTP/1.0" or "HTTP/2.0"."""
    @property
    def scheme(self) -> str: ...
    @property
    def path(self) -> str:
        """The raw, percent-encoded request path."""
    @property
    def query_string(self) -> str: ...
    @property
    def script_name(self) -> str:
        """The mount point that matched ("" for the root)."""
    @property
    def path_info(self) -> str:
        """The path below the mount point, percent-decoded except for %2F."""
    @property
    def app(self) -> int:
        """Index of the application in the mount table."""
    @property
    def body(self) -> bytes | None:
        """The body when held in memory; None when spooled to a file (``body_fd``)."""
    def body_fd(self) -> int | None:
        """A new descriptor on the spooled body (the caller closes it), or None."""
    @property
    def content_length(self) -> int: ...
    @property
    def remote(self) -> tuple[str, int]: ...
    @property
    def local(self) -> tuple[str, int]: ...
    @property
    def request_line(self) -> str: ...
    def header_items(self) -> list[tuple[str, str]]:
        """Every header as (Title-Case name, ISO-8859-1 value), in order."""
    def header(self, name: str) -> str | None:
        """The first value of one header, or None."""
    def log_field(self, atom: str, value: str) -> None:
        """Replace one atom of this request's access-log line (CherryPy's default
        format): ``h`` (remote.name or ip), ``u`` (login), ``r`` (request line), ``f``
        (Referer), ``a`` (User-Agent)."""
    def log_line(self, line: str) -> None:
        """A whole access-log line formatted by Python (a custom access_log_format),
        written instead of the server's own."""
    def environ(self) -> dict[str, str]:
        """The CGI keys of a PEP 3333 environ (PATH_INFO as ISO-8859-1 text, HTTP_*
        joined with ","; over TLS the SSL_* keys of ``ssl_environ``); header names
        containing "_" are left out."""
    def wsgi_environ(self, base: dict[str, Any], errors: Any, input: Any) -> dict[str, Any]:
        """A whole PEP 3333 environ: a copy of ``base``, the keys of ``environ()``,
        ``wsgi.url_scheme``, ``wsgi.errors``, ``wsgi.input`` and, over HTTPS, ``HTTPS``."""
    def ssl_environ(self) -> dict[str, str] | None:
        """The connection's TLS details as mod_ssl's SSL_* keys (SSL_PROTOCOL,
        SSL_CIPHER, SSL_CLIENT_VERIFY, SSL_CLIENT_S_DN, SSL_CLIENT_CERT...), or None
        on plain HTTP."""

@final
class StartResponse:
    """The ``start_response`` callable of one WSGI request (PEP 3333), with ``write``."""

    def __new__(cls) -> StartResponse: ...
    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """Record the status and headers; return ``write``. A second call needs
        ``exc_info``, which is re-raised once the head is sent."""
    def write(self, data: bytes) -> None:
        """The legacy ``write()`` callable: the data precedes the returned iterable."""
    @property
    def status(self) -> str | None:
        """The status given to the call, or None before it."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """The header list given to the call (empty before it)."""
    @property
    def written(self) -> list[bytes]:
        """What ``write()`` was given so far (a new list)."""
    @property
    def sent(self) -> bool:
        """Whether the head has gone out."""
    @sent.setter
    def sent(self, value: bool) -> None: ...
    def reply_list(self, result: list[Any]) -> WSGIReply | None:
        """The worker's reply for a list of bytes after a valid head; None for anything
        the Python gateway must judge."""

@final
class WSGIReply:
    """A reply made by ``StartResponse.reply_list``, taken by the worker as is."""

@final
class FileBody:
    """A response body Rust reads from a file (``wsgi.file_wrapper`` on a real file)."""

    def __new__(cls, fd: int, offset: int, length: int | None, closer: Any) -> FileBody:
        """Reopens the file behind ``fd`` (the caller keeps its own descriptor), sends
        ``length`` bytes (to the end when None) from ``offset``, then calls
        ``closer.close()`` on the worker thread."""

@final
class StaticFile:
    """A response body Rust serves from a file or bytes: it answers conditional requests
    (304/412), ranges (206, multipart/byteranges, 416) and HEAD, and reads the file off
    the interpreter. Returned by ``lib.static.serve_file``/``serve_fileobj``."""

    def __new__(cls, path: str, content_type: str | None = None) -> StaticFile:
        """The file at ``path``, opened when the response is sent; ``content_type`` is
        what each part of a multipart/byteranges reply names (default: the response's
        Content-Type)."""
    @staticmethod
    def from_fd(fd: int) -> StaticFile:
        """The open file behind ``fd`` (the caller keeps and closes its own)."""
    @staticmethod
    def from_bytes(data: bytes) -> StaticFile:
        """Bytes held in memory (a file-like object without a descriptor)."""
    def read(self, limit: int) -> bytes | None:
        """The whole content, read now (for a tool that transforms the body, such as
        ``tools.gzip``); None when it is longer than ``limit`` bytes."""
    @property
    def input(self) -> StaticFileInput:
        """The file as the body of the last response with it reads it (CherryPy's
        ``file_generator.input``)."""

@final
class StaticFileInput:
    """``StaticFile.input``: how far the response's body has read the file."""

    def tell(self) -> int:
        """The file offset after the last chunk read (0 before the response)."""
    @property
    def closed(self) -> bool:
        """Whether the body has been sent (or abandoned)."""

@final
class StaticRoute:
    """A directory (or one file) served by Rust at ``prefix`` and below; mounted with
    ``Server.set_mounts``. A missing directory raises ValueError naming ``what``."""

    def __new__(
        cls,
        prefix: str,
        *,
        strip: int | None = None,
        directory: str | None = None,
        filename: str | None = None,
        index: str | None = None,
        content_types: dict[str, str] = ...,
        listing: bool = False,
        dotfiles: bool = False,
        precompressed: bool = False,
        headers: list[tuple[str, str]] = ...,
        cache_valid: float = 1.0,
        cache_entries: int = 1024,
        cache_bytes: int = ...,
        what: str = ...,
    ) -> StaticRoute:
        """Exactly one of ``directory``/``filename``. The file's path is the request
        path after its first ``strip`` bytes (default ``len(prefix)``);
        ``content_types`` maps extensions (no dot) to types; ``headers`` are added to
        every response; a cached path is looked up again after ``cache_valid``
        seconds (a cached file that changed is reloaded at once)."""
    @property
    def prefix(self) -> str: ...

def lookup_static(
    root: str, path: str, index: str | None = None, dotfiles: bool = True, decoded: bool = False
) -> tuple[str, str | None]:
    """What ``path`` (below the section; percent-encoded, or decoded like ``path_info``
    when ``decoded``) names under ``root``: ("file", path), ("dir", path),
    ("redirect", None), ("notfound", None) or ("forbidden", None)."""

def range_unsatisfiable(value: str, length: int) -> bool:
    """Whether a Range header value is valid but names no byte of the file (416)."""

_Handler = Callable[[Request], tuple[int, str | None, list[tuple[str, str]], Any]]
"""Returns (status, reason or None, headers, body); body is bytes, None, a FileBody, a
StaticFile, or an iterable of bytes/str chunks (streamed; its close() is called once at
the end)."""

@final
class Listener:
    """A listening TCP socket, bound (SO_REUSEADDR) before any thread or runtime
    exists, so that a master can fork workers that all serve it. The socket stays in
    Rust: a forked child owns the same object; ``Server(listener=...)`` duplicates it."""

    def __new__(
        cls,
        host: str,
        port: int,
        backlog: int = 1024,
        socket_file: str | None = None,
        *,
        reuse_port: bool = False,
        listen: bool = True,
    ) -> Listener:
        """Bind and listen; port 0 picks a free port; ``socket_file``: a Unix socket
        instead. ``reuse_port`` sets SO_REUSEPORT; ``listen=False`` only reserves the
        port (no connection is queued on it). OSError names host and port, or the file."""
    @property
    def socket_file(self) -> str | None:
        """The Unix socket's path, or None for TCP."""
    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
    def fileno(self) -> int:
        """The file descriptor (-1 once closed)."""
    def close(self) -> None:
        """Close this process's descriptor; started servers keep their duplicates."""

@final
class Server:
    """The Rust HTTP server. Configure, ``set_mounts``, ``start``, then call
    ``run_worker`` from each Python worker thread; ``stop`` is graceful."""

    def __new__(
        cls,
        host: str = ...,
        port: int = ...,
        *,
        socket_timeout: float = ...,
        max_request_header_size: int = ...,
        max_request_body_size: int = ...,
        shutdown_timeout: float = ...,
        thread_pool: int = ...,
        accepted_queue_size: int = ...,
        accepted_queue_timeout: float = ...,
        socket_queue_size: int = ...,
        io_threads: int = ...,
        max_headers: int = ...,
        access_log_screen: bool = False,
        access_log_file: str | None = None,
        ssl_certificate: str | None = None,
        ssl_private_key: str | None = None,
        ssl_certificate_chain: str | None = None,
        ssl_client_ca: str | None = None,
        ssl_verify_client: str = ...,
        http2: bool | None = None,
        http2_max_concurrent_streams: int = ...,
        debug_log: bool = False,
        listener: Listener | None = None,
        socket_file: str | None = None,
        forwarded_allow_ips: str = ...,
        proxy_protocol: bool = False,
        max_request_line: int = ...,
        access_log_handler: Callable[[str], object] | None = None,
    ) -> Server:
        """With ``listener`` the server serves that socket (a duplicate of it) instead
        of binding host and port: the workers of a master process serve the socket the
        master bound. With ``ssl_certificate`` the server speaks TLS (the PEM files are read at
        ``start``; a file that cannot be used raises ValueError naming it).
        ``ssl_verify_client`` is 'none', 'optional' or 'required' (needs
        ``ssl_client_ca``). ``http2``: None offers HTTP/2 over TLS only (ALPN), True
        also accepts h2c with prior knowledge on plain TCP, False never speaks it.
        ``debug_log`` writes one line to stderr per connection dropped before HTTP.
        ``socket_file``: listen on that Unix socket instead of host and port (plain
        HTTP/1.1, for a proxy on the same machine). The defaults are
        ``SERVER_DEFAULTS``'s (``host``, ``port``: ``socket_host``, ``socket_port``).
        ``forwarded_allow_ips`` (comma-separated addresses, networks, or ``*``; "" for
        none) names the peers whose Forwarded / X-Forwarded-* headers set the remote
        address, scheme and Host; with ``proxy_protocol`` those peers open each
        connection with a HAProxy PROXY header (v1 or v2). ``max_request_line``: bytes
        of the request line, 414 beyond (0: no limit of its own). ``access_log_handler``
        is called with each batch of access-log lines (newline-terminated) on the access
        log's own thread."""
    def set_mounts(
        self,
        script_names: list[str],
        statics: list[tuple[StaticRoute, int | None]] = ...,
        sections: list[tuple[str, int]] = ...,
    ) -> None:
        """Application i serves script_names[i] and below (longest prefix wins); each
        (route, app) of ``statics`` serves its prefix, handing what it does not serve
        to application ``app`` (None: it answers 404 itself); each (prefix, app) of
        ``sections`` is a prefix application ``app`` answers."""
    def start(self) -> tuple[str, int]:
        """Bind and serve; returns the bound (host, port). OSError names host and port."""
    @property
    def bound_address(self) -> tuple[str, int] | None: ...
    @property
    def connections(self) -> int: ...
    @property
    def parked_connections(self) -> int:
        """Idle keep-alive connections holding no HTTP state or buffers (of ``connections``)."""
    @property
    def socket_timeout(self) -> float: ...
    def set_socket_timeout(self, seconds: float) -> None: ...
    def flush_access_log(self, timeout: float = 10.0) -> bool:
        """Wait until the access-log lines of the requests answered so far are written
        (screen, file, handlers); True when they are or the server is not running."""
    @property
    def queued(self) -> int: ...
    @property
    def requests_served(self) -> int:
        """Requests answered since start, static files included (``--max-requests``)."""
    @property
    def thread_pool(self) -> int: ...
    @property
    def tls(self) -> bool:
        """Whether the server speaks TLS."""
    @property
    def warnings(self) -> list[str]:
        """Warnings from the last start or TLS reload (a certificate expiring soon)."""
    @property
    def tls_stats(self) -> list[tuple[str, int]]:
        """(name, count): handshakes, handshake_failures, handshake_timeouts,
        plain_http (plain HTTP sent to the TLS port)."""
    def reload_tls(self) -> list[str]:
        """Re-read the TLS files for new handshakes (open connections are kept);
        returns the warnings. ValueError names a bad file; the old one stays in use."""
    def run_worker(
        self, handler: _Handler, on_error: Callable[[str, BaseException | None], None]
    ) -> None:
        """Serve requests on the calling thread until the server stops."""
    def stop(self) -> bool:
        """Graceful stop; False if some connections had to be cut at shutdown_timeout."""
    @property
    def cut_requests(self) -> list[str]:
        """The requests the last ``stop()`` cut at shutdown_timeout ("GET /x from ip:port")."""
