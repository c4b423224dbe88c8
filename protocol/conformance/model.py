"""Verdicts, results and the exceptions a check raises to decide them."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from protocol.conformance.driver import OpResult


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


class Result(NamedTuple):
    """One verdict for one check ID."""

    code: str
    group: str
    title: str
    status: Status
    detail: str = ""


class CheckFailed(Exception):
    """Raised by a check: the provider violates the requirement."""


class CheckSkipped(Exception):
    """Raised by a check: not applicable (an optional op answered exit 2)."""


def fail(detail: str) -> CheckFailed:
    return CheckFailed(detail)


def skip(detail: str) -> CheckSkipped:
    return CheckSkipped(detail)


def required(result: OpResult, what: str) -> OpResult:
    """A required op: exit 2 and any other failure both FAIL the check."""
    if result.not_implemented:
        raise fail(f"{what}: not implemented (exit 2)")
    if not result.ok:
        raise fail(f"{what}: {result.describe()}")
    return result


def optional(result: OpResult, what: str) -> OpResult:
    """An optional op: exit 2 SKIPs the check; any other failure FAILs it."""
    if result.not_implemented:
        raise skip(f"{what}: not implemented (exit 2)")
    if not result.ok:
        raise fail(f"{what}: {result.describe()}")
    return result
