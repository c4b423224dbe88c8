"""The RPP v0 `protocol` handshake: version 0 and the capabilities we verified.

Gas City caches the answer per provider and trusts each capability to change
its behaviour (`report-activity` gates idle decisions, `proc.exec` routes all
driving through `exec`), so a provider declares only what it implements and
the conformance kit exercises.
"""

from __future__ import annotations

import orjson

#: The wire version this project speaks.
VERSION = 0


def handshake(capabilities: list[str]) -> str:
    """The JSON object `protocol` prints."""
    return orjson.dumps({"version": VERSION, "capabilities": capabilities}).decode()
