"""Check specifications and the units that produce their verdicts.

A *unit* is one callable that yields the verdicts of one or more check IDs
(the 14 ``gc runtime check`` steps form one unit because each step depends on
the previous one; most units hold a single check). Units are independent of
each other, so the runner may run them in parallel.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from protocol.conformance.model import CheckFailed, CheckSkipped, Result, Status

if TYPE_CHECKING:
    from protocol.conformance.context import Kit


class Spec(NamedTuple):
    """A check ID with its suite, group and one-line title."""

    code: str
    suite: str
    group: str
    title: str

    def result(self, status: Status, detail: str = "", title: str = "") -> Result:
        return Result(self.code, self.group, title or self.title, status, detail)


class Unit(NamedTuple):
    """Something to run and the specs whose verdicts it returns, in order."""

    specs: tuple[Spec, ...]
    run: Callable[[Kit], list[Result]]
    #: Run alone, after the parallel phase (timing-sensitive measurements).
    serial: bool = False


UnitBody = Callable[["Kit"], str | None]


def single(spec: Spec, *, serial: bool = False) -> Callable[[UnitBody], Unit]:
    """Wrap a one-check function: return a detail to PASS, raise to FAIL/SKIP."""

    def wrap(body: UnitBody) -> Unit:
        def run(kit: Kit) -> list[Result]:
            return [verdict(spec, body, kit)]

        return Unit((spec,), run, serial)

    return wrap


def strict_registrar(units: list[Unit]) -> Callable[[str, str, str], Callable[[UnitBody], Unit]]:
    """A ``@strict(code, group, title)`` decorator that makes a one-check unit of suite
    ``strict`` and appends it to ``units`` (the module's UNITS)."""

    def strict(code: str, group: str, title: str) -> Callable[[UnitBody], Unit]:
        def wrap(body: UnitBody) -> Unit:
            unit = single(Spec(code, "strict", group, title))(body)
            units.append(unit)
            return unit

        return wrap

    return strict


def verdict(spec: Spec, body: UnitBody, kit: Kit) -> Result:
    """Run one check body and turn its outcome into a result."""
    try:
        detail = body(kit)
    except CheckFailed as exc:
        return spec.result(Status.FAIL, str(exc))
    except CheckSkipped as exc:
        return spec.result(Status.SKIP, str(exc))
    except Exception as exc:  # a kit bug must not hide the other verdicts
        where = traceback.format_exception(exc)[-1].strip()
        return spec.result(Status.FAIL, f"internal error in the kit: {where}")
    return spec.result(Status.PASS, detail or "")
