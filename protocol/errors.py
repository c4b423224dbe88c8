"""Errors an operation raises; `protocol.dispatch` turns each into an exit code.

Kept free of imports so that every hot operation can raise them for free.
"""

from __future__ import annotations


class ProviderError(Exception):
    """An operation failed: exit 1, the message is one line on stderr."""


class UsageError(ProviderError):
    """A known operation was called with bad arguments: exit 1 (never 2)."""


class TemporaryError(ProviderError):
    """The backend is temporarily unable (quota, capacity): `start` exits 75."""


class UnknownOperation(Exception):
    """The operation is not implemented: exit 2, which Gas City reads as success."""


class ExitWith(Exception):
    """Pass a command's own exit code through (the `exec` operation)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code
