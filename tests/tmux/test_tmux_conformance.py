"""The conformance kit against gc-session-tmux: every check passes (exec and provision are not offered).

`make portable-tests` runs this file with GC_PORTABLE=1 too, so the kit also
vouches for the paths macOS takes (ps, temp files, waitpid).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import executable

from protocol.conformance.model import Status
from protocol.conformance.session import run

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable

#: Optional RPP ops gc-session-tmux leaves unimplemented on purpose (exit 2).
EXPECTED_SKIPS = {"RPP-CONN-001", "RPP-PROVISION-001"}


@pytest.mark.slow
def test_gc_session_tmux_passes_every_check(tmux_socket: Path, state_dir: Path) -> None:
    argv = executable("gc-session-tmux")
    if len(argv) != 1:
        pytest.skip("gc-session-tmux is not installed as a script")
    outcome = run(argv[0], {"GC_TMUX_SOCKET": str(tmux_socket), "GC_EXEC_STATE_DIR": str(state_dir)})
    failed = [f"{row.result.code}: {row.result.detail}" for row in outcome.rows
              if row.result.status is Status.FAIL]
    skipped = {row.result.code for row in outcome.rows if row.result.status is Status.SKIP}
    assert failed == []
    assert skipped == EXPECTED_SKIPS
