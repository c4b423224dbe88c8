"""Verdicts, results and the exceptions a check raises to decide them."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


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
