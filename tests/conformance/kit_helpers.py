"""Helpers for the kit's own tests: paths, isolated tmux servers reaped at the end."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
MINIMAL = REPO / "examples" / "minimal-sh" / "gc-session-minimal"
BROKEN = Path(__file__).resolve().parent / "broken" / "gc-session-broken"

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None or shutil.which("jq") is None, reason="needs tmux and jq")


class TmuxIsolation(NamedTuple):
    """A private TMUX_TMPDIR and socket name for one provider under test."""

    tmpdir: Path
    socket: str

    def env(self, **extra: str) -> dict[str, str]:
        return {"TMUX_TMPDIR": str(self.tmpdir), "GC_MINIMAL_TMUX_SOCKET": self.socket, **extra}

    def reap(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"],
            env={"TMUX_TMPDIR": str(self.tmpdir), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=10,
            check=False,
        )
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def new_isolation() -> TmuxIsolation:
    directory = Path("/tmp") / f"gcc-{uuid.uuid4().hex[:10]}"
    directory.mkdir(mode=0o700)
    return TmuxIsolation(directory, "kit")


#: gc-session-tmux with one rule of exec, proc-stream, watch-startup or an env.* guarantee
#: broken (BREAK=<mode>); the minimal provider behind BROKEN offers none of those ops.
BROKEN_TMUX = Path(__file__).resolve().parent / "broken" / "gc-session-tmux-broken"
#: The stand-in gc and bd the env suite's tooling and ledger probes run (tests/doubles).
BOX_TOOLS = REPO / "tests" / "doubles" / "box-tools"

#: (mode, the check IDs it must FAIL) for BROKEN_TMUX.
BOX_BREAKAGES = (
    ("env-workspace-elsewhere", ("ENV-WORKSPACE",)),
    ("env-identity-wrong", ("ENV-IDENTITY",)),
    ("env-tooling-missing", ("ENV-TOOLING",)),
    ("env-ledger-unreachable", ("ENV-LEDGER",)),
    ("env-transcripts-dropped", ("ENV-TRANSCRIPTS",)),
    ("stream-held-back", ("RPP-CONN-002",)),
    ("stream-leaves-process", ("GC-STRICT-STREAM-001",)),
    ("watch-not-json", ("GC-STRICT-WATCH-001",)),
    ("watch-once", ("GC-STRICT-WATCH-001",)),
)
