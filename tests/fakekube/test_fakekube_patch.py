"""JSON patch list indices as the real server reads them (evanphx/json-patch v4 with
negative indices; tests/realkube/test_realkube_parity.py checks the same cases against the
real kube-apiserver): any Go integer, `-` to append, negatives counted from the end."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.conformance.fakekube.errors import ApiError
from protocol.conformance.fakekube.patch import PATCH_REJECTED, json_patch


def _patch(items: list[str], op: dict[str, Any]) -> list[str] | ApiError:
    try:
        out: list[str] = json_patch({"a": items}, [op])["a"]
        return out
    except ApiError as e:
        return e


@given(st.lists(st.text(max_size=3), max_size=6), st.integers(-10, 10), st.sampled_from(["", "+", "0"]))
def test_add_inserts_at_any_index_from_minus_len_plus_one_to_len(items: list[str], index: int,
                                                                  prefix: str) -> None:
    """`add` may insert at 0..len (len appends) or -(len+1)..-1 (-1 appends); a sign or
    leading zeros are read as Go's strconv.Atoi reads them; past that, 422."""
    key = f"{prefix}{index}" if index >= 0 else str(index)
    got = _patch(items, {"op": "add", "path": f"/a/{key}", "value": "new"})
    size = len(items) + 1
    if -size <= index < size:
        at = index + size if index < 0 else index
        assert got == [*items[:at], "new", *items[at:]]
    else:
        assert isinstance(got, ApiError)
        assert (got.code, got.message, got.details) == (422, PATCH_REJECTED, {})


@given(st.lists(st.text(max_size=3), min_size=1, max_size=6), st.integers(-10, 10),
       st.sampled_from(["remove", "replace"]))
def test_remove_and_replace_reach_existing_items_only(items: list[str], index: int, op: str) -> None:
    got = _patch(items, {"op": op, "path": f"/a/{index}", "value": "new"})
    if -len(items) <= index < len(items):
        expected = list(items)
        if op == "remove":
            del expected[index]
        else:
            expected[index] = "new"
        assert got == expected
    else:
        assert isinstance(got, ApiError) and got.code == 422


@pytest.mark.parametrize("key", ["x", "", "1.0", " 1", "1_0", "0x1", "١"])
def test_an_index_that_is_not_a_go_integer_is_rejected(key: str) -> None:
    got = _patch(["a", "b"], {"op": "add", "path": f"/a/{key}", "value": "new"})
    assert isinstance(got, ApiError) and got.code == 422
