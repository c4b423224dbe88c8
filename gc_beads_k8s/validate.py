"""Checks on argv values (bead ids, prefixes, database names); failures exit 1."""

from __future__ import annotations

from protocol.errors import UsageError

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
PREFIX_CHARS = _ALNUM | frozenset("_-.")
DB_CHARS = _ALNUM | frozenset("_-")


def bead_id(value: str) -> str:
    """A bead id: non-empty, printable, no whitespace, not a flag."""
    if not value:
        raise UsageError("bead id is empty")
    if value[0] == "-":
        raise UsageError(f"invalid bead id {value[:60]!r}: must not start with '-'")
    if len(value) > 200 or not value.isprintable() or any(c.isspace() for c in value):
        raise UsageError(f"invalid bead id {value[:60]!r}")
    return value


def prefix(value: str) -> str:
    if not value or value[0] in "-." or len(value) > 40 or not PREFIX_CHARS.issuperset(value):
        raise UsageError(f"invalid prefix {value[:60]!r}: use letters, digits, '_', '-' and '.'")
    return value


def database(value: str) -> str:
    if value and (value[0] == "-" or len(value) > 64 or not DB_CHARS.issuperset(value)):
        raise UsageError(f"invalid database name {value[:60]!r}: use letters, digits, '_', '-'")
    return value


def text(value: str) -> str:
    return value


def label(value: str) -> str:
    if not value:
        raise UsageError("label is empty")
    return value


def limit(value: str) -> str:
    if value == "":
        return "0"
    if not value.isdigit():
        raise UsageError(f"invalid limit {value[:30]!r}: want a non-negative integer")
    return value


def direction(value: str) -> str:
    if value not in ("", "down", "up"):
        raise UsageError(f"invalid direction {value[:30]!r}: want 'down', 'up' or ''")
    return value or "down"


def dep_type(value: str) -> str:
    if value and (value[0] == "-" or not value.isprintable() or " " in value):
        raise UsageError(f"invalid dependency type {value[:30]!r}")
    return value or "blocks"
