"""Every check can fail: each deliberately broken provider FAILs its check IDs.

``broken/gc-session-broken`` wraps the correct minimal provider and breaks one
requirement per ``BREAK`` mode. The kit runs only the checks a mode targets
(``--only``), so the whole table finishes in well under a minute.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
from kit_helpers import BOX_BREAKAGES, BROKEN, needs_tmux, new_isolation

from protocol.conformance.catalog import all_specs
from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.session import Run, run


class Breakage(NamedTuple):
    mode: str
    fails: tuple[str, ...]
    threshold_ms: float | None = None
    relative_env: tuple[tuple[str, str], ...] = ()


#: A socket path relative to the caller's directory (minimal-sh takes a path with a "/").
RELATIVE_SOCKET = (("GC_MINIMAL_TMUX_SOCKET", "./s"),)

RT_L = "RT-LIFECYCLE-"
RT_S = "RT-SESSION-"

BREAKAGES = (
    Breakage("protocol-bad-json", ("CHECK-01-PROTOCOL", "RPP-PROTOCOL-001")),
    Breakage(
        "start-fails",
        (
            "CHECK-02-START",
            "RPP-LIFECYCLE-001",
            f"{RT_L}START-CREATES-RUNNING-SESSION",
            f"{RT_L}PROCESS-ALIVE-CONCURRENT-DISTINCT-SESSIONS",
        ),
    ),
    Breakage("is-running-yes", ("CHECK-03-IS-RUNNING", f"{RT_L}IS-RUNNING-CONCURRENT-DISTINCT-SESSIONS")),
    Breakage("is-attached-garbage", ("CHECK-04-IS-ATTACHED",)),
    Breakage("activity-garbage", ("CHECK-05-LAST-ACTIVITY",)),
    Breakage("process-alive-garbage", ("CHECK-06-PROCESS-ALIVE", "GC-STRICT-PROCESS-001")),
    Breakage(
        "nudge-fails",
        ("CHECK-07-NUDGE", f"{RT_S}NUDGE-RUNNING-SESSION", "GC-STRICT-NUDGE-001"),
    ),
    Breakage("get-meta-exit-2", ("CHECK-08-METADATA", f"{RT_S}SET-GET-META-ROUND-TRIP")),
    Breakage("peek-fails", ("CHECK-09-PEEK", f"{RT_S}PEEK-NO-ERROR")),
    Breakage(
        "list-running-empty",
        (
            "CHECK-10-LIST-RUNNING",
            f"{RT_L}LIST-RUNNING-FINDS-SESSIONS",
            f"{RT_L}LIST-RUNNING-EMPTY-PREFIX",
            f"{RT_L}LIST-RUNNING-CONCURRENT-DISTINCT-PREFIXES",
        ),
    ),
    Breakage("list-running-all", (f"{RT_L}LIST-RUNNING-PREFIX-FILTERING",)),
    Breakage("stop-fails", ("CHECK-11-STOP",)),
    Breakage(
        "stop-noop",
        (
            "CHECK-12-IS-RUNNING-AFTER-STOP",
            "RPP-LIFECYCLE-003",
            f"{RT_L}STOP-MAKES-SESSION-NOT-RUNNING",
            f"{RT_L}STOP-CONCURRENT-DISTINCT-SESSIONS",
            f"{RT_L}LIST-RUNNING-EXCLUDES-STOPPED",
        ),
    ),
    Breakage(
        "stop-fails-missing",
        (
            "CHECK-13-STOP-IDEMPOTENT",
            "RPP-LIFECYCLE-004",
            f"{RT_L}STOP-IDEMPOTENT-NOT-RUNNING",
            f"{RT_L}STOP-IDEMPOTENT-ALREADY-STOPPED",
        ),
    ),
    Breakage(
        "interrupt-fails",
        (
            "CHECK-14-INTERRUPT",
            f"{RT_L}INTERRUPT-CONCURRENT-DISTINCT-SESSIONS",
            f"{RT_S}INTERRUPT-RUNNING-SESSION",
            f"{RT_S}INTERRUPT-MISSING-SESSION",
        ),
    ),
    Breakage(
        "duplicate-start-ok",
        (
            "RPP-LIFECYCLE-002",
            f"{RT_L}START-DUPLICATE-RETURNS-ERROR",
            "GC-STRICT-START-002",
        ),
    ),
    Breakage("is-running-exit-2", ("RPP-LIFECYCLE-005", f"{RT_L}IS-RUNNING-UNKNOWN-SESSION")),
    Breakage("exec-wrong-code", ("RPP-CONN-001",)),
    Breakage("provision-launches", ("RPP-PROVISION-001",)),
    Breakage("concurrent-start-fails", (f"{RT_L}START-CONCURRENT-DISTINCT-SESSIONS",)),
    Breakage("process-alive-true", (f"{RT_L}PROCESS-ALIVE-FALSE-AFTER-STOP", "GC-STRICT-PROCESS-002")),
    Breakage("meta-unset-fails", (f"{RT_S}GET-META-UNSET-KEY",)),
    Breakage("remove-meta-noop", (f"{RT_S}REMOVE-META-THEN-GET-RETURNS-EMPTY",)),
    Breakage("meta-first-write-wins", (f"{RT_S}SET-META-OVERWRITES-PREVIOUS",)),
    Breakage("meta-one-key", (f"{RT_S}META-MULTIPLE-KEYS",)),
    Breakage("activity-fails", (f"{RT_S}GET-LAST-ACTIVITY-NO-ERROR",)),
    Breakage("clear-scrollback-fails", (f"{RT_S}CLEAR-SCROLLBACK-NO-ERROR",)),
    Breakage("copy-to-fails", (f"{RT_S}COPY-TO-NO-ERROR",)),
    Breakage(
        "send-keys-fails",
        (f"{RT_S}SEND-KEYS-RUNNING-SESSION", f"{RT_S}SEND-KEYS-MISSING-SESSION"),
    ),
    Breakage("nudge-missing-fails", (f"{RT_S}NUDGE-MISSING-SESSION",)),
    Breakage("nudge-not-literal", ("GC-STRICT-NUDGE-001",)),
    Breakage("nudge-no-large", ("GC-STRICT-NUDGE-002",)),
    Breakage("drop-last-name", ("GC-STRICT-PROCESS-002",)),
    Breakage("process-pgrep", ("GC-STRICT-PROCESS-003",)),
    Breakage("activity-session", ("GC-STRICT-ACTIVITY-001",)),
    Breakage("start-env-not-meta", ("GC-STRICT-META-001",)),
    Breakage("start-ignores-config", ("GC-STRICT-START-003",)),
    Breakage("usage-exit-2", ("GC-STRICT-USAGE-001", "GC-STRICT-USAGE-002")),
    Breakage("dash-name-exit-2", ("GC-STRICT-USAGE-003",)),
    Breakage("unknown-op-exit-0", ("GC-STRICT-USAGE-004",)),
    Breakage("race-start", ("GC-STRICT-START-001",)),
    Breakage("inject-name", ("GC-STRICT-INJECT-001",)),
    Breakage("inject-meta", ("GC-STRICT-INJECT-002",)),
    Breakage("stop-leaves-tree", ("GC-STRICT-STOP-001",)),
    Breakage("stop-async", ("GC-STRICT-STOP-002",)),
    Breakage("start-tempfail", ("GC-STRICT-START-004",)),
    Breakage("start-escapes-cancel", ("GC-STRICT-CANCEL-001",)),
    Breakage("start-ignores-cancel", ("GC-STRICT-CANCEL-002",)),
    Breakage("start-leaves-pre-start", ("GC-STRICT-CANCEL-003", "GC-STRICT-START-005")),
    Breakage("prefix-target", ("GC-STRICT-ISOLATION-001",)),
    Breakage("exited-empty-target", ("GC-STRICT-ISOLATION-002",)),
    Breakage("send-keys-unescaped", ("GC-STRICT-INJECT-003",)),
    Breakage("meta-semicolon", ("GC-STRICT-INJECT-004",)),
    Breakage("env-semicolon", ("GC-STRICT-INJECT-005",)),
    Breakage("nudge-semicolon", ("GC-STRICT-INJECT-006",)),
    Breakage("copy-follows-links", ("GC-STRICT-COPY-001",)),
    Breakage("copy-loop-traceback", ("GC-STRICT-COPY-002",)),
    Breakage("start-stale-lock", ("GC-STRICT-START-005",)),
    Breakage("secret-in-argv", ("GC-STRICT-SECRET-001",)),
    Breakage("slow-hot-ops", ("GC-STRICT-COLD-START-001",), threshold_ms=150),
    Breakage("alias-lowercase", ("GC-STRICT-ISOLATION-003",)),
    Breakage("relative-elsewhere", ("GC-STRICT-ISOLATION-004",), relative_env=RELATIVE_SOCKET),
    Breakage("closed-stdin-traceback", ("GC-STRICT-USAGE-005",)),
    Breakage("workdir-format", ("GC-STRICT-INJECT-007",)),
    Breakage("start-nudge-ignores-term", ("GC-STRICT-CANCEL-004",)),
)

#: Checks no provider can fail: the Go caller answers them without calling it.
CALLER_SIDE = {"RT-LIFECYCLE-PROCESS-ALIVE-EMPTY-NAMES-RETURNS-TRUE"}


def run_broken(breakage: Breakage) -> Run:
    isolation = new_isolation()
    try:
        options = Options(
            cold_start_threshold_ms=breakage.threshold_ms, workers=2, relative_env=breakage.relative_env
        )
        env = isolation.env(BREAK=breakage.mode)
        return run(str(BROKEN), env, breakage.fails, options=options)
    finally:
        isolation.reap()


@needs_tmux
@pytest.mark.slow
@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.mode)
def test_broken_provider_fails_its_checks(breakage: Breakage) -> None:
    # Each case runs only its own breakage: parallel workers then share the cases out
    # instead of each running all of them for a module fixture.
    verdicts = {row.result.code: row.result for row in run_broken(breakage).rows}
    for code in breakage.fails:
        assert verdicts[code].status is Status.FAIL, f"{code}: {verdicts[code]}"


def test_every_check_has_a_broken_provider_that_fails_it() -> None:
    covered = {code for breakage in BREAKAGES for code in breakage.fails}
    covered |= {code for _, fails in BOX_BREAKAGES for code in fails}  # test_conformance_box_breakages
    every = {spec.code for spec in all_specs() if spec.suite != "beads"}
    assert every - covered - CALLER_SIDE == set()
    assert covered <= every


def test_broken_modes_are_distinct() -> None:
    modes = [b.mode for b in BREAKAGES]
    assert len(modes) == len(set(modes))


#: Strict checks that observe the session from the kit's host (files, /proc).
HOST_OBSERVED = {
    "GC-STRICT-NUDGE-001",
    "GC-STRICT-NUDGE-002",
    "GC-STRICT-ACTIVITY-001",
    "GC-STRICT-START-003",
    "GC-STRICT-STOP-001",
    "GC-STRICT-CANCEL-003",
    "GC-STRICT-INJECT-006",
    "GC-STRICT-COPY-001",
    "GC-STRICT-INJECT-007",
    "GC-STRICT-CANCEL-004",
}


@needs_tmux
@pytest.mark.slow
def test_checks_that_observe_the_host_skip_for_a_box_the_kit_cannot_see() -> None:
    outcome = run_broken(Breakage("runs-elsewhere", tuple(sorted(HOST_OBSERVED))))
    verdicts = {row.result.code: row.result for row in outcome.rows}
    assert {code: verdicts[code].status for code in HOST_OBSERVED} == dict.fromkeys(HOST_OBSERVED, Status.SKIP)
    assert "remote box" in verdicts["GC-STRICT-STOP-001"].detail
    assert "where the kit can see it" in verdicts["GC-STRICT-CANCEL-003"].detail
