"""``cherrypy.lib.locking``: the timers CherryPy's sessions use while they wait for a
session's lock, and the exception such a wait ends with.

``LockTimeout`` is the class the sessions of cherrypy_rs raise (a 503 ``HTTPError``), so
``except cherrypy.lib.locking.LockTimeout`` catches what ``tools.sessions`` raises.
"""

from __future__ import annotations

import datetime

from .session_store import LockTimeout

__all__ = ["LockChecker", "LockTimeout", "NeverExpires", "Timer"]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class NeverExpires:
    """A timer that never runs out (a lock wait without ``lock_timeout``)."""

    def expired(self) -> bool:
        return False


class Timer:
    """Runs out at ``expiration``, an aware UTC datetime."""

    def __init__(self, expiration: datetime.datetime) -> None:
        self.expiration = expiration

    @classmethod
    def after(cls, elapsed: datetime.timedelta) -> Timer:
        """A timer that runs out ``elapsed`` from now."""
        return cls(_now() + elapsed)

    def expired(self) -> bool:
        return _now() >= self.expiration


class LockChecker:
    """Raises ``LockTimeout`` from ``expired()`` once ``timeout`` (a ``timedelta``;
    None or zero: never) has passed since it was made."""

    def __init__(self, session_id: str, timeout: datetime.timedelta | None) -> None:
        self.session_id = session_id
        self.timeout = timeout
        self.timer: Timer | NeverExpires = Timer.after(timeout) if timeout else NeverExpires()

    def expired(self) -> bool:
        if self.timer.expired():
            seconds = self.timeout.total_seconds() if self.timeout else 0.0
            raise LockTimeout(self.session_id, seconds)
        return False
