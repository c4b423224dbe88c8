"""The beads suite passes a correct exec beads store and catches each broken one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from protocol.conformance.catalog import all_specs
from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.session import Run, run

STORE = Path(__file__).resolve().parent / "broken" / "beads_store.py"


class Breakage(NamedTuple):
    mode: str
    fails: tuple[str, ...]


BREAKAGES = (
    Breakage("ids-constant", ("BEADS-CREATE-ASSIGNS-UNIQUE-NON-EMPTY-ID",)),
    Breakage("status-new", ("BEADS-CREATE-SETS-STATUS-OPEN",)),
    Breakage("type-empty", ("BEADS-CREATE-DEFAULTS-TYPE-TO-TASK", "BEADS-CREATE-PRESERVES-EXPLICIT-TYPE")),
    Breakage("created-at-epoch", ("BEADS-CREATE-SETS-CREATED-AT",)),
    Breakage("title-upper", ("BEADS-CREATE-PRESERVES-TITLE",)),
    Breakage("assignee-dropped", ("BEADS-CREATE-ASSIGNEE-ROUND-TRIPS",)),
    Breakage("get-title-stale", ("BEADS-GET-EXISTING-BEAD",)),
    Breakage("from-dropped", ("BEADS-CREATE-FROM-ROUND-TRIPS",)),
    Breakage(
        "not-found-exit-0",
        ("BEADS-GET-NOT-FOUND", "BEADS-GET-NOT-FOUND-EMPTY-STORE", "BEADS-CLOSE-NOT-FOUND", "BEADS-UPDATE-NOT-FOUND"),
    ),
    Breakage("close-noop", ("BEADS-CLOSE-SUCCESS", "BEADS-CLOSE-REMOVES-FROM-READY")),
    Breakage("close-twice-fails", ("BEADS-CLOSE-IDEMPOTENT",)),
    Breakage("list-exit-2", ("BEADS-LIST-RETURNS-ALL-BEADS", "BEADS-LIST-COUNT")),
    Breakage("list-drops-closed", ("BEADS-LIST-INCLUDES-CLOSED-WITHOUT-STATUS",)),
    Breakage(
        "empty-text",
        ("BEADS-LIST-EMPTY-STORE", "BEADS-READY-EMPTY-STORE", "BEADS-LIST-BY-LABEL-EMPTY", "BEADS-CHILDREN-EMPTY"),
    ),
    Breakage(
        "labels-dropped",
        ("BEADS-LIST-FILTERS-BY-QUERY-FIELDS", "BEADS-LIST-BY-LABEL-MATCH", "BEADS-LIST-BY-LABEL-LIMIT"),
    ),
    Breakage("ready-exit-2", ("BEADS-READY-RETURNS-OPEN-BEADS", "BEADS-READY-COUNT")),
    Breakage("ready-empty", ("BEADS-READY-EXCLUDES-INFRA-TYPES",)),
    Breakage("update-ignored", ("BEADS-UPDATE-DESCRIPTION",)),
    Breakage("update-clears", ("BEADS-UPDATE-NIL-FIELD",)),
    Breakage("children-none", ("BEADS-CHILDREN-RETURNS-MATCHING",)),
    Breakage("children-all", ("BEADS-CHILDREN-WRONG-PARENT",)),
    Breakage("list-by-label-fails", ("BEADS-LIST-BY-LABEL-NO-MATCH",)),
    Breakage("metadata-leaks-labels", ("BEADS-METADATA-ROUND-TRIPS",)),
    Breakage("metadata-replace", ("BEADS-UPDATE-METADATA-MERGES",)),
    Breakage("set-metadata-appends", ("BEADS-SET-METADATA-OVERWRITES",)),
    Breakage("metadata-drops-empty", ("BEADS-METADATA-STRINGS-STAY-STRINGS",)),
    Breakage("unknown-op-exit-1", ("BEADS-UNKNOWN-OPERATION-EXITS2",)),
    Breakage("dep-list-empty", ("BEADS-DEP-ADD-AND-LIST",)),
)


@pytest.fixture(scope="module")
def store_executable(tmp_path_factory: pytest.TempPathFactory) -> str:
    wrapper = tmp_path_factory.mktemp("beads") / "gc-beads-fake"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STORE}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def run_store(executable: str, mode: str, only: tuple[str, ...] = ()) -> Run:
    return run(executable, {"BREAK": mode}, only, beads=True, options=Options(workers=4))


@pytest.mark.slow
def test_a_correct_store_passes_every_beads_check(store_executable: str) -> None:
    outcome = run_store(store_executable, "")
    not_passed = [row.result for row in outcome.rows if row.result.status is not Status.PASS]
    assert not_passed == []
    assert len(outcome.rows) == len([s for s in all_specs() if s.suite == "beads"])


@pytest.mark.slow
@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.mode)
def test_broken_store_fails_its_checks(breakage: Breakage, store_executable: str) -> None:
    # Each case runs only its own breakage, so parallel workers share the cases out.
    verdicts = {row.result.code: row.result for row in run_store(store_executable, breakage.mode,
                                                                   breakage.fails).rows}
    for code in breakage.fails:
        assert verdicts[code].status is Status.FAIL, f"{code}: {verdicts[code]}"


def test_every_beads_check_has_a_broken_store_that_fails_it() -> None:
    covered = {code for breakage in BREAKAGES for code in breakage.fails}
    every = {spec.code for spec in all_specs() if spec.suite == "beads"}
    assert every == covered
