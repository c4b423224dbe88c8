from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Provider, Start


@pytest.fixture
def start(tmux_provider: Provider, tmp_path: Path) -> Iterator[Start]:
    """Start a uniquely named session (stopped at teardown) and return its name."""
    started: list[str] = []

    def _start(config: dict[str, object] | None = None, name: str = "") -> str:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        cfg: dict[str, object] = {"work_dir": str(tmp_path), "command": "sleep 300"}
        cfg.update(config or {})
        res = tmux_provider.run("start", name, stdin=json.dumps(cfg, separators=(",", ":")))
        assert res.rc == 0, res.err
        started.append(name)
        return name

    yield _start
    for name in started:
        tmux_provider.run("stop", name)
