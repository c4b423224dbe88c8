"""The kit reads provider output exactly as the Go caller does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

import pytest

from protocol.conformance.caller import (
    exact_bool,
    join_process_names,
    parse_rfc3339,
    reads_true,
    split_list,
    trim_output,
)


def test_only_trailing_newlines_are_trimmed() -> None:
    assert trim_output(b"  text \r\n\n\n") == "  text \r"
    assert trim_output(b"\n\nkeep\nlead") == "\n\nkeep\nlead"


def test_is_running_is_true_only_for_true_after_trimming_space() -> None:
    assert reads_true(" true \n")
    assert not reads_true("True")
    assert not reads_true("1")
    assert not reads_true("")


def test_the_checkers_want_exactly_true_or_false() -> None:
    assert exact_bool("true") is True
    assert exact_bool("false") is False
    assert exact_bool(" true") is None


def test_list_running_splits_on_newlines_and_keeps_blank_entries() -> None:
    assert split_list("") == []
    assert split_list("a\n\nb\r") == ["a", "", "b\r"]


def test_process_names_are_joined_without_a_final_newline() -> None:
    assert join_process_names(["claude", "node"]) == b"claude\nnode"


class Stamp(NamedTuple):
    text: str
    parsed: datetime | None


UTC = UTC


@pytest.mark.parametrize(
    "case",
    [
        Stamp("2025-06-15T10:30:00Z", datetime(2025, 6, 15, 10, 30, tzinfo=UTC)),
        Stamp("2025-06-15T10:30:00.25Z", datetime(2025, 6, 15, 10, 30, 0, 250000, tzinfo=UTC)),
        Stamp(
            "2025-06-15T12:30:00+02:00",
            datetime(2025, 6, 15, 12, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        Stamp("not-a-date", None),
        Stamp("2025-06-15T10:30:00Z ", None),
        Stamp("2025-06-15 10:30:00Z", None),
        Stamp("2025-13-15T10:30:00Z", None),
    ],
    ids=lambda c: c.text,
)
def test_last_activity_parses_like_go_rfc3339(case: Stamp) -> None:
    assert parse_rfc3339(case.text) == case.parsed
