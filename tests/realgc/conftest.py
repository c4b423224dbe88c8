"""An isolated environment for Gas City's own `gc` (helpers: realgc_helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from realgc_helpers import GC, NO_GC, free_port


@pytest.fixture
def gc_env(tmp_path: Path) -> dict[str, str]:
    """An isolated GC_HOME, runtime dir and tmux socket; every tool's telemetry off."""
    if not GC:
        pytest.skip(NO_GC)
    for d in ("gchome", "xdg", "tmp", "tmux"):
        (tmp_path / d).mkdir(mode=0o700)
    (tmp_path / "xdg").chmod(0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GC_", "TMUX"))}
    env.update(
        GC_HOME=str(tmp_path / "gchome"), XDG_RUNTIME_DIR=str(tmp_path / "xdg"),
        TMPDIR=str(tmp_path / "tmp"),
        DO_NOT_TRACK="1", GC_DISABLE_USAGE_METRICS="1", BD_DISABLE_METRICS="1",
        BD_DISABLE_EVENT_FLUSH="1", DOLT_DISABLE_EVENT_FLUSH="1",
        GC_BEADS="file", GC_DOLT="skip", GC_BOOTSTRAP="skip",
        GC_TMUX_SOCKET=str(tmp_path / "tmux" / "gc.sock"),
    )
    (tmp_path / "gchome" / "supervisor.toml").write_text(
        f'[supervisor]\nport = {free_port()}\nbind = "127.0.0.1"\n')
    return env
