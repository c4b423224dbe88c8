"""Validation of what arrives in argv: session names, meta keys, line counts.

Everything here runs on hot paths, so it uses `str` methods, not `re`.
A rejected value is a `UsageError` (exit 1), never exit 2.
"""

from __future__ import annotations

from protocol.errors import UsageError

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
#: Gas City session names: agent names with `/`→`--` and `.`→`__` (tmux rewrites `.` and `:`).
SESSION_CHARS = _ALNUM | frozenset("_-")
#: Meta keys become tmux environment variable names.
KEY_CHARS = _ALNUM | frozenset("_-.")
MAX_NAME = 200
MAX_KEY = 256


def session_name(value: str) -> str:
    """A Gas City session name: ``[A-Za-z0-9_-]+``, not starting with ``-``."""
    if not value:
        raise UsageError("session name is empty")
    if value[0] == "-":
        raise UsageError(f"invalid session name {value[:60]!r}: must not start with '-'")
    if len(value) > MAX_NAME:
        raise UsageError(f"invalid session name: longer than {MAX_NAME} characters")
    if not SESSION_CHARS.issuperset(value):
        raise UsageError(f"invalid session name {value[:60]!r}: use only letters, digits, '_' and '-'")
    return value


def prefix(value: str) -> str:
    """A `list-running` prefix: empty (all) or a run of session-name characters."""
    if value and not SESSION_CHARS.issuperset(value):
        raise UsageError(f"invalid prefix {value[:60]!r}: use only letters, digits, '_' and '-'")
    return value


def meta_key(value: str) -> str:
    """A meta key: ``[A-Za-z0-9_.-]+``, not starting with ``-``."""
    if not value:
        raise UsageError("meta key is empty")
    if value[0] == "-":
        raise UsageError(f"invalid meta key {value[:60]!r}: must not start with '-'")
    if len(value) > MAX_KEY or not KEY_CHARS.issuperset(value):
        raise UsageError(f"invalid meta key {value[:60]!r}: use only letters, digits, '_', '.' and '-'")
    return value


def line_count(value: str) -> str:
    """`peek`'s line count: a decimal integer (``<= 0`` means all scrollback)."""
    body = value[1:] if value[:1] in ("-", "+") else value
    if not body or not body.isdigit() or not body.isascii():
        raise UsageError(f"invalid line count {value[:30]!r}: want a decimal integer")
    return str(int(value))


def key_name(value: str) -> str:
    """A tmux key name for `send-keys` (``Enter``, ``C-c``, ``Down``): no flags."""
    if not value or value[0] == "-" or len(value) > 64:
        raise UsageError(f"invalid key name {value[:30]!r}")
    if not value.isprintable() or " " in value:
        raise UsageError(f"invalid key name {value[:30]!r}")
    return value


def not_empty(what: str):  # type: ignore[no-untyped-def]
    """A validator that rejects an empty value or one that looks like a flag."""

    def check(value: str) -> str:
        if not value:
            raise UsageError(f"{what} is empty")
        if value[0] == "-":
            raise UsageError(f"invalid {what} {value[:60]!r}: must not start with '-'")
        return value

    return check


def any_text(value: str) -> str:
    """An argument passed through unchanged (may be empty)."""
    return value
