"""Select units, run them (independent units in parallel), always clean up.

Each unit's rows are handed to ``on_result`` the moment the unit finishes (the
CLI's live progress, the pytest plugin's items), and an interrupted run raises
`Interrupted` carrying every row finished so far, so nothing already verified
is lost on Ctrl-C.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from protocol.conformance.catalog import all_units
from protocol.conformance.checks.rpp import read_handshake
from protocol.conformance.context import Kit
from protocol.conformance.model import Status, readable
from protocol.conformance.registry import Unit
from protocol.conformance.report import SuiteResult

SESSION_SUITES = ("check", "rpp", "runtimetest", "strict", "env")

#: Called with each finished row and the seconds its unit took.
OnResult = Callable[[SuiteResult, float], None]


class Interrupted(KeyboardInterrupt):
    """The run was interrupted; ``rows`` (catalogue order) and ``durations`` are what finished."""

    def __init__(self, rows: list[SuiteResult], durations: dict[str, float]) -> None:
        super().__init__()
        self.rows = rows
        self.durations = durations


def matches(word: str, suite: str, code: str) -> bool:
    """Whether ``--only word`` selects check ``code`` of ``suite`` (case-insensitive).

    ``word`` is a suite name, a glob (``GC-STRICT-*``, ``*-00?``) matched
    against the whole ID, or else any part of the ID (``USAGE-004``).
    """
    word, code = word.lower(), code.lower()
    if word == suite:
        return True
    if any(c in word for c in "*?["):
        return fnmatch.fnmatchcase(code, word)
    return word in code


def select(only: Sequence[str] = (), beads: bool = False) -> list[Unit]:
    """Units of the session suites (or the beads suite), narrowed by ``only``.

    ``only`` holds suite names (``check``, ``rpp``, ``runtimetest``,
    ``strict``, ``beads``), globs over check IDs (``GC-STRICT-*``) or parts of
    check IDs (``USAGE-004``, ``GC-STRICT-NUDGE``); see `matches`.
    """
    catalogue = all_units()
    # A whole ID selects just that check (BEADS-GET-NOT-FOUND is also part of another ID).
    ids = {spec.code.lower() for unit in catalogue for spec in unit.specs}
    units = []
    for unit in catalogue:
        suite = unit.specs[0].suite
        if beads != (suite == "beads"):
            continue
        if only and not any(s.code.lower() == w.lower() if w.lower() in ids else matches(w, suite, s.code)
                            for w in only for s in unit.specs):
            continue
        units.append(unit)
    return units


class _Outcome:
    """Rows by unit index, filled from worker threads as units finish."""

    def __init__(self, on_result: OnResult | None) -> None:
        self.rows: dict[int, list[SuiteResult]] = {}
        self.durations: dict[str, float] = {}
        self.lock = threading.Lock()
        self.on_result = on_result

    def run(self, kit: Kit, index: int, unit: Unit) -> None:
        began = time.monotonic()
        rows = _run_one(kit, unit)
        elapsed = time.monotonic() - began
        with self.lock:
            self.rows[index] = rows
            for row in rows:
                self.durations[row.result.code] = elapsed
                if self.on_result is not None:
                    self.on_result(row, elapsed)

    def ordered(self) -> list[SuiteResult]:
        with self.lock:
            return [row for i in sorted(self.rows) for row in self.rows[i]]


def run_units(kit: Kit, units: Sequence[Unit], on_result: OnResult | None = None,
              durations: dict[str, float] | None = None) -> list[SuiteResult]:
    """Run ``units``; results come back in catalogue order. Cleans up always.

    ``durations`` (when given) receives each check's seconds: the time of the
    unit that produced it (the 14 ``check`` steps share one).
    """
    outcome = _Outcome(on_result)
    try:
        if any(u.specs[0].suite != "beads" for u in units):
            kit.handshake = read_handshake(kit)
        parallel = [(i, u) for i, u in enumerate(units) if not u.serial]
        with ThreadPoolExecutor(max_workers=max(1, kit.options.workers)) as pool:
            futures = [pool.submit(outcome.run, kit, i, u) for i, u in parallel]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                kit.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        for i, unit in enumerate(units):
            if unit.serial:
                outcome.run(kit, i, unit)
        return outcome.ordered()
    except KeyboardInterrupt:
        kit.cancel()
        raise Interrupted(outcome.ordered(), dict(outcome.durations)) from None
    finally:
        if durations is not None:
            durations.update(outcome.durations)
        kit.cleanup()


def _run_one(kit: Kit, unit: Unit) -> list[SuiteResult]:
    results = unit.run(kit)
    by_code = {r.code: r for r in results}
    rows = []
    for spec in unit.specs:
        result = by_code.get(spec.code) or spec.result(Status.FAIL, "the kit produced no verdict")
        rows.append(SuiteResult(spec.suite, result._replace(detail=readable(result.detail))))
    return rows
