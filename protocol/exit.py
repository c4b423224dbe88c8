"""The exit codes of the exec protocol, in one enumeration.

Only `protocol.dispatch.fail` maps outcomes to these codes. Success is the
absence of an error (the interpreter exits 0), so hot operations never pay
for importing `enum`.
"""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class ExitCode(IntEnum):
    """Exit codes a Gas City exec provider may use."""

    OK = 0
    #: The operation failed; one line on stderr says why.
    FAILURE = 1
    #: Unknown operation. Gas City treats it as success with empty output.
    NOT_IMPLEMENTED = 2
    #: `start` only (EX_TEMPFAIL): the backend is temporarily unable; retry later.
    TEMPORARY_FAILURE = 75
