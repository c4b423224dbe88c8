"""The minimal sh provider (examples/minimal-sh) passes every check of the kit."""

from __future__ import annotations

import pytest
from kit_helpers import MINIMAL, TmuxIsolation, needs_tmux

from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.session import run

#: Optional ops the minimal provider leaves unimplemented on purpose, and what it does
#: not declare (proc.stream, every env.* guarantee), which the kit skips as gc does.
EXPECTED_SKIPS = {"RPP-CONN-001", "RPP-PROVISION-001", "RPP-CONN-002", "GC-STRICT-STREAM-001",
                  "GC-STRICT-WATCH-001", "ENV-WORKSPACE", "ENV-TOOLING", "ENV-IDENTITY", "ENV-LEDGER",
                  "ENV-TRANSCRIPTS"}


@needs_tmux
@pytest.mark.slow
def test_minimal_provider_passes_every_check(tmux_isolation: TmuxIsolation) -> None:
    # A socket path relative to the caller's directory: GC-STRICT-ISOLATION-004 runs.
    relative = Options(relative_env=(("GC_MINIMAL_TMUX_SOCKET", "./s"),))
    outcome = run(str(MINIMAL), tmux_isolation.env(), options=relative)
    verdicts = {row.result.code: row.result for row in outcome.rows}
    failed = [r for r in verdicts.values() if r.status is Status.FAIL]
    skipped = {code for code, r in verdicts.items() if r.status is Status.SKIP}
    assert failed == []
    assert skipped == EXPECTED_SKIPS
    assert outcome.kit.handshake is not None
    assert outcome.kit.handshake.capabilities == ("report-attachment", "report-activity")
