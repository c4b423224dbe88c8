"""Errors an operation raises; `protocol.dispatch` turns each into an exit code.

Kept free of imports (``__future__`` included: the k8s executable's quickest path loads
none) so that every hot operation can raise them for free.
"""


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
