"""``tools.proxy`` (``cherrypy.lib.cptools.proxy``): take the request's base URL and
client address from a reverse proxy's headers.

Only turn it on behind a proxy that sets (and overwrites) these headers: the tool
believes them. For the server-wide, trust-checked variant applied in Rust, see
``server.forwarded_allow_ips`` in docs/deployment.md.
"""

from __future__ import annotations

import urllib.parse

from .. import context


def proxy(
    base: str | None = None,
    local: str = "X-Forwarded-Host",
    remote: str = "X-Forwarded-For",
    scheme: str = "X-Forwarded-Proto",
    debug: bool = False,
) -> None:
    """Set ``request.base`` from ``base`` or the ``local`` header (scheme from the
    ``scheme`` header; ``X-Forwarded-Ssl: on`` means https), and ``request.remote.ip``
    from the first address of the ``remote`` header. An empty argument turns that part
    off."""
    request = context.request_or_raise()
    headers = request.headers
    current = request.base
    proto = None
    if scheme:
        value = headers.get(scheme)
        if value == "on" and "ssl" in scheme.lower():
            proto = "https"
        else:
            proto = value
    if not proto:
        proto = current[: current.find("://")]
    if local:
        forwarded = headers.get(local)
        if forwarded is not None:
            base = forwarded.split(",")[0].strip()
    if not base:
        base = headers.get("Host", urllib.parse.urlparse(current).netloc)
    if "://" not in base:
        base = f"{proto}://{base}"
    request.base = base
    if remote:
        value = headers.get(remote)
        if value:
            if remote == "X-Forwarded-For":
                value = value.split(",")[0].strip()
            request.remote.ip = value
