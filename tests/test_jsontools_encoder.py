"""``jsontools._encode`` (``tools.json_out``'s encoder, its C encoder kept per thread)
gives ``json.JSONEncoder().encode``'s text and errors, and stays right after an error
and across threads."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from cherrypy_rs.lib import jsontools

VALUES: list[Any] = [
    {"a": [1, 2.5, None, True, False, "é\n\x00\u2028😀"]},
    [float("nan"), float("inf"), -float("inf"), 1e16, 0.1, -0.0],
    {1: 2, 2.5: 3, None: 4, False: 5, "k": {"nested": [[], {}]}},
    (1, 2, (3,)),
    "plain string",
    42,
    None,
    10**30,
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_text_as_the_standard_encoder(value: Any) -> None:
    assert jsontools._encode(value) == json.JSONEncoder().encode(value)


def circular() -> list[Any]:
    a: list[Any] = []
    a.append({"x": a})
    return a


@pytest.mark.parametrize(
    "bad", [circular(), {"x": object()}, {(1,): 2}], ids=["circular", "object", "tuple key"]
)
def test_same_errors_and_the_next_call_is_unaffected(bad: Any) -> None:
    with pytest.raises(Exception) as expected:
        json.JSONEncoder().encode(bad)
    with pytest.raises(type(expected.value)) as got:
        jsontools._encode(bad)
    assert str(got.value) == str(expected.value)
    # The map of containers being encoded is empty again: a shared (not circular)
    # value encodes.
    shared = {"k": 1}
    assert jsontools._encode([shared, shared]) == '[{"k": 1}, {"k": 1}]'


def test_threads_encode_concurrently() -> None:
    shared = {"values": list(range(200)), "nested": [{"i": i} for i in range(50)]}
    expected = json.JSONEncoder().encode(shared)
    results: list[bool] = []

    def work() -> None:
        results.append(all(jsontools._encode(shared) == expected for _ in range(200)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [True] * 4
