"""The parallel run's order (tests/schedule.py): every test once, long ones spread and first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from schedule import LONG, arrange, slice_sizes


@given(st.lists(st.floats(min_value=0, max_value=600), max_size=60), st.integers(min_value=1, max_value=8))
def test_every_test_is_ordered_exactly_once(weights: list[float], workers: int) -> None:
    order = arrange(weights, workers)
    assert sorted(order) == list(range(len(weights)))
    assert sum(slice_sizes(len(weights), workers)) == len(weights)


def test_long_tests_open_different_slices_and_short_ones_keep_their_order() -> None:
    weights = [1.0] * 40
    weights[37], weights[38], weights[39] = 400.0, 300.0, 200.0  # all at the collection's end
    order = arrange(weights, 4)
    slices, at = [], 0
    for size in slice_sizes(len(weights), 4):
        slices.append(order[at:at + size])
        at += size
    firsts = sorted(s[0] for s in slices if weights[s[0]] >= LONG)
    assert firsts == [37, 38, 39]
    for members in slices:
        short = [i for i in members if weights[i] < LONG]
        assert short == sorted(short)


def test_slices_are_split_as_xdist_splits_them() -> None:
    assert slice_sizes(10, 4) == [2, 2, 3, 3]
    assert slice_sizes(3, 4) == [0, 1, 1, 1]
