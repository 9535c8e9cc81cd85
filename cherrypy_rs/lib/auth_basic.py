"""``tools.auth_basic``: HTTP Basic authentication (RFC 7617), as
``cherrypy.lib.auth_basic``.

Configure ``tools.auth_basic.on``, ``.realm`` and ``.checkpassword`` (a callable
``checkpassword(realm, username, password) -> bool``; ``checkpassword_dict({user:
password})`` makes one). On success ``request.login`` is the user name; otherwise the
response is 401 with a ``WWW-Authenticate: Basic realm="...", charset="UTF-8"``
challenge. An ``Authorization`` header that is not valid base64 or has no ``:`` gets
400 (CherryPy ignores stray characters in the base64; we refuse them).
"""

from __future__ import annotations

import binascii
import unicodedata
from typing import Any, Callable

from .. import context
from ..errors import HTTPError

#: The charset tried when the credentials are not valid in ``accept_charset``.
FALLBACK_CHARSET = "ISO-8859-1"


def checkpassword_dict(user_password_dict: dict[str, str]) -> Callable[[str, str, str], bool]:
    """A ``checkpassword`` that checks ``{username: password}`` (compared in constant
    time, so the answer's timing does not tell how much of a password matched)."""

    def checkpassword(realm: str, user: str, password: str) -> bool:
        # Lazy: hmac imports hashlib, which loads OpenSSL's libcrypto (~4 MiB per
        # process); only Basic authentication with this checker needs it.
        import hmac

        expected = user_password_dict.get(user)
        if not expected:
            # Compare anyway: an unknown user takes as long as a wrong password.
            hmac.compare_digest(password.encode(), password.encode())
            return False
        return hmac.compare_digest(expected.encode("utf-8"), password.encode("utf-8"))

    return checkpassword


def _decode(raw: bytes, charsets: tuple[str, ...]) -> str:
    for charset in charsets[:-1]:
        try:
            return raw.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode(charsets[-1])


def credentials(header: str, accept_charset: str = "utf-8") -> tuple[str, str] | None:
    """(username, password) from a Basic ``Authorization`` header value, None for
    another scheme; ValueError when it is malformed."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = binascii.a2b_base64(_strict_base64(params.strip()))
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None
    text = unicodedata.normalize("NFC", _decode(raw, (accept_charset, FALLBACK_CHARSET)))
    username, sep, password = text.partition(":")
    if not sep:
        raise ValueError("the credentials have no ':'")
    return username, password


def _strict_base64(value: str) -> bytes:
    data = value.encode("ascii")
    if len(data) % 4 or not all(
        c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=" for c in data
    ):
        raise binascii.Error("not base64")
    return data


def basic_auth(
    realm: str,
    checkpassword: Callable[[str, str, str], Any],
    debug: bool = False,
    accept_charset: str = "utf-8",
) -> None:
    """Authenticate the request with HTTP Basic, or answer 401 (the tool's callable,
    at ``before_handler``, priority 1)."""
    if '"' in realm:
        raise ValueError('Realm cannot contain the " (quote) character.')
    request = context.request_or_raise()
    header = request.headers.get("Authorization")
    if header is not None:
        try:
            found = credentials(header, accept_charset)
        except (ValueError, UnicodeError):
            raise HTTPError(400, "Bad Request") from None
        if found is not None and checkpassword(realm, *found):
            if debug:
                _log("Auth succeeded")
            request.login = found[0]
            return
    charset = accept_charset.upper()
    declaration = f', charset="{charset}"' if charset != FALLBACK_CHARSET else ""
    context.response_or_raise().headers["WWW-Authenticate"] = f'Basic realm="{realm}"{declaration}'
    raise HTTPError(401, "You are not authorized to access that resource")


def _log(message: str) -> None:
    log = context.site.log
    if log is not None:
        log.error(message, "TOOLS.AUTH_BASIC")
