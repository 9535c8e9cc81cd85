"""Two small ``cherrypy.lib`` modules an application may import by CherryPy's name:
``lib.headers.parse_header`` (compared with CherryPy's own on fixed and random values)
and ``lib.locking``'s timers (its ``LockTimeout`` is what sessions raise: see
test_sessions ``test_lib_locking_lock_timeout_is_what_sessions_raise``)."""

from __future__ import annotations

import datetime
import random

import pytest

from cherrypy_rs.lib import locking
from cherrypy_rs.lib.headers import parse_header
from cherrypy_rs.lib.session_store import LockTimeout

VALUES = [
    "text/html",
    "text/html; charset=utf-8",
    'text/html;charset="utf-8"',
    'form-data; name="a;b"; filename="x\\"y;z.txt"',
    ";;a;;b=1",
    "",
    "a; B=2; b=3",
    'x; name=""',
    ' a ; q = "1" ',
    "multipart/form-data; boundary=----x;",
]


def test_parse_header_examples() -> None:
    assert parse_header('form-data; name="a;b"; filename="x\\"y;z.txt"') == (
        "form-data",
        {"name": "a;b", "filename": 'x"y;z.txt'},
    )
    assert parse_header("a; B=2; b=3") == ("a", {"b": "3"})


def test_parse_header_agrees_with_cherrypy() -> None:
    reference = pytest.importorskip("cherrypy.lib.headers")
    if reference.__name__.startswith("cherrypy_rs"):
        pytest.skip("cherrypy is aliased to cherrypy_rs in this process")
    rng = random.Random(2026)
    values = VALUES + [
        "".join(rng.choice('ab;="\\\\ =') for _ in range(rng.randint(0, 14))) for _ in range(5000)
    ]
    for value in values:
        assert parse_header(value) == reference.parse_header(value), value


def test_lock_checker_raises_the_sessions_lock_timeout() -> None:
    assert locking.LockTimeout is LockTimeout
    assert locking.LockChecker("sid", None).expired() is False
    expired = locking.LockChecker("sid", datetime.timedelta(seconds=-1))
    with pytest.raises(LockTimeout) as raised:
        expired.expired()
    assert raised.value.status == 503 and raised.value.session_id == "sid"
    assert locking.LockChecker("sid", datetime.timedelta(hours=1)).expired() is False
    assert locking.NeverExpires().expired() is False
    assert locking.Timer.after(datetime.timedelta(seconds=-1)).expired()
