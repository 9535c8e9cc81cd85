"""Process limits a server needs: the open-file limit (``RLIMIT_NOFILE``).

Every connection is a file descriptor. Many systems start processes with a soft limit
of 1024 and a much higher hard limit; like nginx (``worker_rlimit_nofile``) and granian,
the server raises the soft limit to the hard one at start, and says so in the error log
when even that stays below what its settings imply.
"""

from __future__ import annotations

import resource

#: Descriptors one process uses besides its connections: the listening socket, log
#: files, static files being sent, the interpreter's own.
RESERVED_FILES = 64

#: The kernel's ceiling for RLIMIT_NOFILE when the hard limit is "unlimited".
NR_OPEN = "/proc/sys/fs/nr_open"


def _ceiling(hard: int) -> int:
    if hard != resource.RLIM_INFINITY:
        return hard
    try:
        with open(NR_OPEN) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024 * 1024


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; return (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _ceiling(hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, hard
        soft = target
    return soft, hard


def open_files_needed(socket_queue_size: int, accepted_queue_size: int, thread_pool: int) -> int:
    """A floor for the descriptors a server needs: a connection for each request the
    listen backlog (``server.socket_queue_size``) and the pool (``server.thread_pool``
    running, ``server.accepted_queue_size`` waiting) can hold, plus ``RESERVED_FILES``."""
    return socket_queue_size + accepted_queue_size + thread_pool + RESERVED_FILES


def open_files_warning(needed: int) -> str | None:
    """Raises the limit; returns what to log when it stays below ``needed``."""
    soft, _hard = raise_open_files_limit()
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    return (
        f"the open-file limit (RLIMIT_NOFILE) is {soft}, its hard limit: "
        f"server.socket_queue_size + server.accepted_queue_size + server.thread_pool imply "
        f"at least {needed} open connections and files; connections beyond the limit are "
        "refused. Raise the hard limit (ulimit -Hn, systemd LimitNOFILE=)."
    )
