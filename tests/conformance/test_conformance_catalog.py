"""Check IDs are unique, follow the documented scheme, and cover upstream's lists."""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple

import pytest

from protocol.conformance.catalog import all_specs
from protocol.conformance.checks.rpp import CHECK_STEPS
from protocol.conformance.checks.runtimetest import rt_code
from protocol.conformance.runner import select

SCHEME = re.compile(
    r"CHECK-\d\d-[A-Z-]+|RPP-[A-Z]+-\d{3}|RT-(LIFECYCLE|SESSION)-[A-Z0-9-]+"
    r"|GC-STRICT-[A-Z-]+-\d{3}|ENV-(WORKSPACE|TOOLING|IDENTITY|LEDGER|TRANSCRIPTS)|BEADS-[A-Z0-9-]+"
)


def test_check_ids_are_unique_and_follow_the_scheme() -> None:
    codes = [spec.code for spec in all_specs()]
    assert [c for c, n in Counter(codes).items() if n > 1] == []
    assert [c for c in codes if not SCHEME.fullmatch(c)] == []


def test_suites_hold_upstream_counts() -> None:
    suites = Counter(spec.suite for spec in all_specs())
    assert suites["check"] == 14
    assert suites["rpp"] == 9  # upstream's 8 and its planned RPP-CONN-002 (proc-stream)
    assert suites["env"] == 5
    assert suites["runtimetest"] == 33


def test_runtime_check_steps_keep_upstream_names_and_order() -> None:
    assert [title for _, title in CHECK_STEPS] == [
        "protocol handshake",
        "lifecycle: start",
        "lifecycle: is-running after start",
        "optional: is-attached",
        "optional: get-last-activity",
        "optional: process-alive",
        "optional: nudge",
        "optional: metadata round-trip",
        "optional: peek",
        "optional: list-running",
        "lifecycle: stop",
        "lifecycle: is-running after stop",
        "lifecycle: stop idempotent",
        "optional: interrupt",
    ]


class GoName(NamedTuple):
    go: str
    code: str


@pytest.mark.parametrize(
    "case",
    [
        GoName("Start_CreatesRunningSession", "RT-LIFECYCLE-START-CREATES-RUNNING-SESSION"),
        GoName("Stop_Idempotent_NotRunning", "RT-LIFECYCLE-STOP-IDEMPOTENT-NOT-RUNNING"),
        GoName("SetGetMeta_RoundTrip", "RT-LIFECYCLE-SET-GET-META-ROUND-TRIP"),
    ],
    ids=lambda c: c.go,
)
def test_runtimetest_ids_derive_from_go_test_names(case: GoName) -> None:
    assert rt_code("LIFECYCLE", case.go) == case.code


def test_only_accepts_suites_and_id_prefixes() -> None:
    assert {u.specs[0].suite for u in select(["strict"])} == {"strict"}
    codes = [s.code for u in select(["GC-STRICT-NUDGE"]) for s in u.specs]
    assert codes == ["GC-STRICT-NUDGE-001", "GC-STRICT-NUDGE-002"]
    assert select(["no-such-suite"]) == []
    assert {u.specs[0].suite for u in select(beads=True)} == {"beads"}
