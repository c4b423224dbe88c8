"""The conformance kit against gc-session-tmux: every check passes, none skips (the env
suite's tooling and ledger with the stand-in gc and bd of tests/doubles on PATH).

`make portable-tests` runs this file with GC_PORTABLE=1 too, so the kit also
vouches for the paths macOS takes (ps, temp files, waitpid).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import executable

from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.session import Run, run

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable

#: Nothing: exec, provision, proc-stream, watch-startup and all five env.* guarantees run.
EXPECTED_SKIPS: set[str] = set()
BOX_TOOLS = Path(__file__).resolve().parents[1] / "doubles" / "box-tools"
#: GC-STRICT-ISOLATION-004 with the socket as a path relative to the caller (refused or kept apart).
RELATIVE = Options(relative_env=(("GC_TMUX_SOCKET", "./s"), ("GC_EXEC_STATE_DIR", "./state")))
#: The checks for what a hostile caller found (issue 23).
HOSTILE = ("GC-STRICT-ISOLATION-003", "GC-STRICT-ISOLATION-004", "GC-STRICT-USAGE-005",
           "GC-STRICT-INJECT-007", "GC-STRICT-CANCEL-004")


def failures(outcome: Run) -> list[str]:
    return [f"{row.result.code}: {row.result.detail}" for row in outcome.rows if row.result.status is Status.FAIL]


@pytest.mark.slow
def test_gc_session_tmux_passes_every_check(tmux_socket: Path, state_dir: Path) -> None:
    argv = executable("gc-session-tmux")
    if len(argv) != 1:
        pytest.skip("gc-session-tmux is not installed as a script")
    env = {"GC_TMUX_SOCKET": str(tmux_socket), "GC_EXEC_STATE_DIR": str(state_dir),
           "PATH": f"{BOX_TOOLS}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    outcome = run(argv[0], env, options=RELATIVE)
    failed = failures(outcome)
    skipped = {row.result.code for row in outcome.rows if row.result.status is Status.SKIP}
    assert failed == []
    assert skipped == EXPECTED_SKIPS


@pytest.mark.slow
def test_gc_session_tmux_passes_the_hostile_caller_checks(tmux_socket: Path, state_dir: Path) -> None:
    argv = executable("gc-session-tmux")
    if len(argv) != 1:
        pytest.skip("gc-session-tmux is not installed as a script")
    env = {"GC_TMUX_SOCKET": str(tmux_socket), "GC_EXEC_STATE_DIR": str(state_dir)}
    outcome = run(argv[0], env, HOSTILE, options=RELATIVE)
    assert failures(outcome) == []
    assert {row.result.status for row in outcome.rows} == {Status.PASS}
