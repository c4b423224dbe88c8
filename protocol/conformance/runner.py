"""Select units, run them (independent units in parallel), always clean up."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from protocol.conformance.catalog import all_units
from protocol.conformance.checks.rpp import read_handshake
from protocol.conformance.context import Kit
from protocol.conformance.model import Status
from protocol.conformance.registry import Unit
from protocol.conformance.report import SuiteResult

SESSION_SUITES = ("check", "rpp", "runtimetest", "strict")


def select(only: Sequence[str] = (), beads: bool = False) -> list[Unit]:
    """Units of the session suites (or the beads suite), narrowed by ``only``.

    ``only`` holds suite names (``check``, ``rpp``, ``runtimetest``,
    ``strict``, ``beads``) or check-ID prefixes (``GC-STRICT-NUDGE``).
    """
    wanted = [w.lower() for w in only]
    units = []
    for unit in all_units():
        suite = unit.specs[0].suite
        if beads != (suite == "beads"):
            continue
        if wanted and not any(suite == w or any(s.code.lower().startswith(w) for s in unit.specs) for w in wanted):
            continue
        units.append(unit)
    return units


def run_units(kit: Kit, units: Sequence[Unit]) -> list[SuiteResult]:
    """Run ``units``; results come back in catalogue order. Cleans up always."""
    try:
        if any(u.specs[0].suite != "beads" for u in units):
            kit.handshake = read_handshake(kit)
        outcome: dict[int, list[SuiteResult]] = {}
        parallel = [(i, u) for i, u in enumerate(units) if not u.serial]
        workers = max(1, kit.options.workers)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {i: pool.submit(_run_one, kit, u) for i, u in parallel}
            try:
                for i, future in futures.items():
                    outcome[i] = future.result()
            except BaseException:
                kit.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        for i, unit in enumerate(units):
            if unit.serial:
                outcome[i] = _run_one(kit, unit)
        return [row for i in sorted(outcome) for row in outcome[i]]
    finally:
        kit.cleanup()


def _run_one(kit: Kit, unit: Unit) -> list[SuiteResult]:
    results = unit.run(kit)
    by_code = {r.code: r for r in results}
    rows = []
    for spec in unit.specs:
        result = by_code.get(spec.code) or spec.result(Status.FAIL, "the kit produced no verdict")
        rows.append(SuiteResult(spec.suite, result))
    return rows
