"""Typed surface of the Rust extension ``cherrypy_rs._core``.

Applications never import this module: ``cherrypy_rs`` wraps it in CherryPy's API.
"""

from collections.abc import Callable
from typing import Any

__version__: str

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
    def environ(self) -> dict[str, str]:
        """The CGI keys of a PEP 3333 environ (PATH_INFO as ISO-8859-1 text, HTTP_*
        joined with ","; over TLS the SSL_* keys of ``ssl_environ``); header names
        containing "_" are left out."""
    def ssl_environ(self) -> dict[str, str] | None:
        """The connection's TLS details as mod_ssl's SSL_* keys (SSL_PROTOCOL,
        SSL_CIPHER, SSL_CLIENT_VERIFY, SSL_CLIENT_S_DN, SSL_CLIENT_CERT...), or None
        on plain HTTP."""

class FileBody:
    """A response body Rust reads from a file (``wsgi.file_wrapper`` on a real file)."""

    def __init__(self, fd: int, offset: int, length: int | None, closer: Any) -> None:
        """Reopens the file behind ``fd`` (the caller keeps its own descriptor), sends
        ``length`` bytes (to the end when None) from ``offset``, then calls
        ``closer.close()`` on the worker thread."""

Handler = Callable[[Request], tuple[int, str | None, list[tuple[str, str]], Any]]
"""Returns (status, reason or None, headers, body); body is bytes, None, a FileBody, or
an iterable of bytes/str chunks (streamed; its close() is called once at the end)."""

class Server:
    """The Rust HTTP server. Configure, ``set_mounts``, ``start``, then call
    ``run_worker`` from each Python worker thread; ``stop`` is graceful."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        socket_timeout: float = 10.0,
        max_request_header_size: int = 512000,
        max_request_body_size: int = 104857600,
        shutdown_timeout: float = 5.0,
        thread_pool: int = 10,
        accepted_queue_size: int = 1024,
        accepted_queue_timeout: float = 10.0,
        socket_queue_size: int = 1024,
        io_threads: int = 1,
        max_headers: int = 100,
        access_log_screen: bool = False,
        access_log_file: str | None = None,
        ssl_certificate: str | None = None,
        ssl_private_key: str | None = None,
        ssl_certificate_chain: str | None = None,
        ssl_client_ca: str | None = None,
        ssl_verify_client: str = "none",
        http2: bool | None = None,
        http2_max_concurrent_streams: int = 100,
        debug_log: bool = False,
    ) -> None:
        """With ``ssl_certificate`` the server speaks TLS (the PEM files are read at
        ``start``; a file that cannot be used raises ValueError naming it).
        ``ssl_verify_client`` is 'none', 'optional' or 'required' (needs
        ``ssl_client_ca``). ``http2``: None offers HTTP/2 over TLS only (ALPN), True
        also accepts h2c with prior knowledge on plain TCP, False never speaks it.
        ``debug_log`` writes one line to stderr per connection dropped before HTTP."""
    def set_mounts(self, script_names: list[str]) -> None:
        """Application i serves script_names[i] and below (longest prefix wins)."""
    def start(self) -> tuple[str, int]:
        """Bind and serve; returns the bound (host, port). OSError names host and port."""
    @property
    def bound_address(self) -> tuple[str, int] | None: ...
    @property
    def connections(self) -> int: ...
    @property
    def queued(self) -> int: ...
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
        self, handler: Handler, on_error: Callable[[str, BaseException | None], None]
    ) -> None:
        """Serve requests on the calling thread until the server stops."""
    def stop(self) -> bool:
        """Graceful stop; False if some connections had to be cut at shutdown_timeout."""
