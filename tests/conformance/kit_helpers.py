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
