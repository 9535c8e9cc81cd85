"""``tools.auth_digest``: HTTP Digest authentication (RFC 2617, RFC 7616), as
``cherrypy.lib.auth_digest``.

Configure ``tools.auth_digest.on``, ``.realm``, ``.get_ha1`` (``get_ha1(realm,
username)`` → the hex HA1, or None for an unknown user: ``get_ha1_dict_plain``,
``get_ha1_dict``, ``get_ha1_file_htdigest`` make one) and ``.key`` (a server secret).
The nonce is ``timestamp:H(timestamp:realm:key)``: bound to the secret and the time it
was issued, checked in constant time, and stale (a new challenge with ``stale="true"``)
after ten minutes. Algorithms MD5 and MD5-sess (CherryPy's) and SHA-256 and
SHA-256-sess (RFC 7616; needs a ``get_ha1`` that takes ``algorithm=``, as the
``get_ha1_dict_plain`` one does); qop ``auth`` and ``auth-int``. A header that cannot
be parsed gets 400; a wrong answer, 401 with a new challenge.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from .. import context
from ..errors import HTTPError

qop_auth = "auth"
qop_auth_int = "auth-int"
valid_qops = (qop_auth, qop_auth_int)
valid_algorithms = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess")

FALLBACK_CHARSET = "ISO-8859-1"
DEFAULT_CHARSET = "UTF-8"

#: Seconds a nonce stays fresh.
NONCE_LIFETIME = 600


def md5_hex(s: str) -> str:
    """The MD5 of ``s`` (UTF-8), in hex."""
    # Lazy: hashlib loads OpenSSL's libcrypto (~4 MiB per process); only Digest
    # authentication needs it.
    import hashlib

    return hashlib.md5(s.encode("utf-8")).hexdigest()


def _hash_for(algorithm: str) -> Callable[[str], str]:
    if algorithm.upper().startswith("SHA-256"):
        # Lazy: see md5_hex.
        import hashlib

        return lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest()
    return md5_hex


def H(s: str) -> str:
    """The hash function H of MD5 digests."""
    return md5_hex(s)


def get_ha1_dict_plain(user_password_dict: dict[str, str]) -> Callable[..., str | None]:
    """A ``get_ha1`` for ``{username: password}`` (plain-text passwords)."""

    def get_ha1(realm: str, username: str, algorithm: str = "MD5") -> str | None:
        password = user_password_dict.get(username)
        if password:
            return _hash_for(algorithm)(f"{username}:{realm}:{password}")
        return None

    return get_ha1


def get_ha1_dict(user_ha1_dict: dict[str, str]) -> Callable[[str, str], str | None]:
    """A ``get_ha1`` for ``{username: HA1}`` (precomputed MD5 HA1 hashes)."""

    def get_ha1(realm: str, username: str) -> str | None:
        return user_ha1_dict.get(username)

    return get_ha1


def get_ha1_file_htdigest(filename: str) -> Callable[[str, str], str | None]:
    """A ``get_ha1`` reading an Apache ``htdigest`` file (``user:realm:HA1`` lines)."""

    def get_ha1(realm: str, username: str) -> str | None:
        with open(filename, encoding="utf-8") as f:
            for line in f:
                fields = line.rstrip("\r\n").split(":")
                if len(fields) == 3 and fields[0] == username and fields[1] == realm:
                    return fields[2]
        return None

    return get_ha1


def synthesize_nonce(s: str, key: str, timestamp: Any = None) -> str:
    """A nonce for realm ``s``: the time it was issued and a hash binding that time to
    the realm and the server's secret ``key``."""
    if timestamp is None:
        timestamp = int(time.time())
    return f"{timestamp}:{md5_hex(f'{timestamp}:{s}:{key}')}"


def _recode(header: str, charset: str) -> str:
    """The header's bytes (Latin-1 on the wire) read in ``charset``, else Latin-1."""
    raw = header.encode("latin-1", errors="replace")
    try:
        return raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return raw.decode(FALLBACK_CHARSET)


class HttpDigestAuthorization:
    """A parsed ``Authorization: Digest ...`` header and the digest computation."""

    scheme = "digest"

    @classmethod
    def matches(cls, header: str) -> bool:
        return header.partition(" ")[0].lower() == cls.scheme

    def errmsg(self, s: str) -> str:
        return f"Digest Authorization header: {s}"

    def __init__(
        self,
        auth_header: str,
        http_method: str,
        debug: bool = False,
        accept_charset: str = DEFAULT_CHARSET,
    ) -> None:
        self.http_method = http_method
        self.debug = debug
        if not self.matches(auth_header):
            raise ValueError('Authorization scheme is not "Digest"')
        self.auth_header = _recode(auth_header, accept_charset)
        _scheme, _, params = self.auth_header.partition(" ")
        # Lazy: urllib.request imports http.client, email and ssl (~9 MiB in every
        # process); only a Digest Authorization header needs its list parsers.
        import urllib.request

        try:
            fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(params))
        except (ValueError, IndexError):
            raise ValueError(self.errmsg("the parameters cannot be parsed")) from None
        self.realm = fields.get("realm")
        self.username = fields.get("username")
        self.nonce = fields.get("nonce")
        self.uri = fields.get("uri")
        self.method = fields.get("method")
        self.response = fields.get("response")
        self.algorithm = fields.get("algorithm", "MD5")
        self.cnonce = fields.get("cnonce")
        self.opaque = fields.get("opaque")
        self.qop = fields.get("qop")
        self.nc = fields.get("nc")
        canonical = {a.upper(): a for a in valid_algorithms}
        if self.algorithm.upper() not in canonical:
            raise ValueError(self.errmsg(f"Unsupported value for algorithm: {self.algorithm!r}"))
        self.algorithm = canonical[self.algorithm.upper()]
        if not (self.username and self.realm and self.nonce and self.uri and self.response):
            raise ValueError(self.errmsg("Not all required parameters are present."))
        if self.qop:
            if self.qop not in valid_qops:
                raise ValueError(self.errmsg(f"Unsupported value for qop: {self.qop!r}"))
            if not (self.cnonce and self.nc):
                raise ValueError(self.errmsg("If qop is sent then cnonce and nc MUST be present"))
        elif self.cnonce or self.nc:
            raise ValueError(
                self.errmsg("If qop is not sent, neither cnonce nor nc can be present")
            )

    def __str__(self) -> str:
        return f"authorization : {self.auth_header}"

    def validate_nonce(self, s: str, key: str) -> bool:
        """Whether the nonce was issued by ``synthesize_nonce(s, key)`` (its time stamp
        cannot be changed without knowing ``key``)."""
        timestamp, sep, hashpart = (self.nonce or "").partition(":")
        if not sep or not timestamp.isdigit():
            return False
        expected = synthesize_nonce(s, key, timestamp).partition(":")[2]
        # Lazy: hmac imports hashlib (see md5_hex).
        import hmac

        return hmac.compare_digest(expected.encode(), hashpart.encode("utf-8", "replace"))

    def is_nonce_stale(self, max_age_seconds: int = NONCE_LIFETIME) -> bool:
        """Whether the (validated) nonce is older than ``max_age_seconds``."""
        timestamp = (self.nonce or "").partition(":")[0]
        try:
            return int(timestamp) + max_age_seconds <= int(time.time())
        except ValueError:
            return True

    def HA2(self, entity_body: bytes | str = b"") -> str:
        """H(A2) (RFC 2617 §3.2.2.3)."""
        h = _hash_for(self.algorithm)
        if self.qop is None or self.qop == qop_auth:
            return h(f"{self.http_method}:{self.uri}")
        if isinstance(entity_body, str):
            entity_body = entity_body.encode("utf-8")
        # Lazy: see md5_hex.
        import hashlib

        if self.algorithm.upper().startswith("SHA-256"):
            body_hash = hashlib.sha256(entity_body).hexdigest()
        else:
            body_hash = hashlib.md5(entity_body).hexdigest()
        return h(f"{self.http_method}:{self.uri}:{body_hash}")

    def request_digest(self, ha1: str, entity_body: bytes | str = b"") -> str:
        """The request digest the client should have sent (RFC 2617 §3.2.2.1)."""
        h = _hash_for(self.algorithm)
        ha2 = self.HA2(entity_body)
        if self.qop:
            req = f"{self.nonce}:{self.nc}:{self.cnonce}:{self.qop}:{ha2}"
        else:
            req = f"{self.nonce}:{ha2}"
        if self.algorithm.endswith("-sess"):
            ha1 = h(f"{ha1}:{self.nonce}:{self.cnonce}")
        return h(f"{ha1}:{req}")


def _charset_declaration(charset: str) -> str:
    charset = charset.upper()
    return f', charset="{charset}"' if charset != FALLBACK_CHARSET else ""


def www_authenticate(
    realm: str,
    key: str,
    algorithm: str = "MD5",
    nonce: str | None = None,
    qop: str = qop_auth,
    stale: bool = False,
    accept_charset: str = DEFAULT_CHARSET,
) -> str:
    """A ``WWW-Authenticate`` Digest challenge."""
    if qop not in valid_qops:
        raise ValueError(f"Unsupported value for qop: {qop!r}")
    if algorithm not in valid_algorithms:
        raise ValueError(f"Unsupported value for algorithm: {algorithm!r}")
    if nonce is None:
        nonce = synthesize_nonce(realm, key)
    stale_param = ', stale="true"' if stale else ""
    return (
        f'Digest realm="{realm}", nonce="{nonce}", algorithm="{algorithm}", qop="{qop}"'
        f"{stale_param}{_charset_declaration(accept_charset)}"
    )


def _takes_algorithm(get_ha1: Callable[..., Any]) -> bool:
    # Lazy: inspect costs ~2.6 MiB per process; only a get_ha1 check needs it.
    import inspect

    try:
        params = inspect.signature(get_ha1).parameters
    except (TypeError, ValueError):
        return False
    return "algorithm" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _request_body_bytes(request: Any) -> bytes:
    body = request.body
    fullvalue = getattr(body, "fullvalue", None)
    return fullvalue() if fullvalue is not None else b""


def digest_auth(
    realm: str,
    get_ha1: Callable[..., str | None],
    key: str,
    debug: bool = False,
    accept_charset: str = "utf-8",
    algorithm: str = "MD5",
) -> None:
    """Authenticate the request with HTTP Digest, or answer 401 with a challenge (the
    tool's callable, at ``before_handler``, priority 1)."""
    request = context.request_or_raise()
    header = request.headers.get("Authorization")

    def challenge(stale: bool = False) -> HTTPError:
        context.response_or_raise().headers["WWW-Authenticate"] = www_authenticate(
            realm, key, algorithm=algorithm, stale=stale, accept_charset=accept_charset
        )
        return HTTPError(401, "You are not authorized to access that resource")

    if not header or not HttpDigestAuthorization.matches(header):
        raise challenge()
    try:
        auth = HttpDigestAuthorization(
            header, request.method, debug=debug, accept_charset=accept_charset
        )
    except ValueError:
        raise HTTPError(400, "The Authorization header could not be parsed.") from None
    if auth.realm != realm or not auth.validate_nonce(realm, key):
        raise challenge()
    if auth.algorithm.startswith("SHA-256"):
        ha1 = (
            get_ha1(realm, auth.username, algorithm="SHA-256")
            if _takes_algorithm(get_ha1)
            else None
        )
    else:
        ha1 = get_ha1(realm, auth.username)
    if ha1 is None:
        raise challenge()
    body = _request_body_bytes(request) if auth.qop == qop_auth_int else b""
    expected = auth.request_digest(ha1, entity_body=body)
    # Lazy: hmac imports hashlib (see md5_hex).
    import hmac

    if not hmac.compare_digest(expected.encode(), (auth.response or "").encode("utf-8", "replace")):
        raise challenge()
    if auth.is_nonce_stale():
        raise challenge(stale=True)
    request.login = auth.username
    if debug:
        log = context.site.log
        if log is not None:
            log.error(f"authentication of {auth.username} successful", "TOOLS.AUTH_DIGEST")
