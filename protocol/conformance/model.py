"""Verdicts, results and the exceptions a check raises to decide them."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
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
    return succeeded(result, what, if_not_implemented=fail)


def optional(result: OpResult, what: str) -> OpResult:
    """An optional op: exit 2 SKIPs the check; any other failure FAILs it."""
    return succeeded(result, what, if_not_implemented=skip)


def succeeded(result: OpResult, what: str, if_not_implemented: Callable[[str], CheckFailed | CheckSkipped]) -> OpResult:
    """``result`` if the op succeeded; else raise the verdict its failure earns."""
    if result.not_implemented:
        raise if_not_implemented(f"{what}: not implemented (exit 2)")
    if not result.ok:
        raise fail(f"{what}: {result.describe()}")
    return result


_BYTES_LITERAL = re.compile(r"""(?<![\w'"])b('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
#: How control characters read in a detail: what a person would call the key.
_SHOWN = {"\r": "⏎", "\n": "\\n", "\t": "\\t", "\x1b": "⎋", "\x7f": "^?"}


def readable(detail: str) -> str:
    """A detail for people: Python byte literals (``b'\\x03\\r'``) become quoted text (``"^C⏎"``).

    Checks compare bytes, and their messages quote them as Python would; the
    report shows the same bytes as text: UTF-8 decoded, Enter as ``⏎``, Escape
    as ``⎋``, other control characters in caret notation (``^C``).
    """
    if "b'" not in detail and 'b"' not in detail:
        return detail

    def text(match: re.Match[str]) -> str:
        try:
            raw = ast.literal_eval("b" + match.group(1))
        except (ValueError, SyntaxError):
            return match.group(0)
        decoded = raw.decode("utf-8", "replace")
        shown = "".join(_SHOWN.get(c) or (f"^{chr(ord(c) + 64)}" if ord(c) < 32 else c) for c in decoded)
        return f'"{shown}"'

    return _BYTES_LITERAL.sub(text, detail)
