"""An environment entry the kernel cannot exec with is refused, not left as a dead pane."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import Provider, wait_for


def has_session(sock: Path, name: str) -> bool:
    return subprocess.run(["tmux", "-S", str(sock), "has-session", "-t", f"={name}"],
                          capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("env", [
    {"GC_BIG": "x" * (128 * 1024 - len("GC_BIG=") - 1 + 1)},  # one byte over the limit
    {f"GC_MANY_{i}": "y" * (100 * 1024) for i in range(12)},
], ids=["one 128 KiB entry", "1.2 MiB in all"])
def test_an_environment_too_big_to_exec_is_refused_with_one_line_and_nothing_left(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    name = f"env-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "pre_start-ran"
    cfg = {"work_dir": str(tmp_path), "command": "sleep 300", "env": env,
           "pre_start": [f"touch {marker}"]}
    res = tmux_provider.run("start", name, stdin=json.dumps(cfg))
    assert res.rc == 1, res
    assert res.err.count("\n") == 1 and "KiB" in res.err, res.err
    assert not has_session(tmux_socket, name)
    assert not marker.exists()  # refused before anything ran


@pytest.mark.parametrize("value", [
    "v#[$~" * (100 * 1024 // 5),
    "w" * (128 * 1024 - len("GC_LARGE=") - 1),  # exactly the kernel's limit, with the NUL
], ids=["100 KiB", "at the limit"])
def test_a_large_environment_entry_within_the_limit_reaches_the_process(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, value: str
) -> None:
    name = f"env-{uuid.uuid4().hex[:8]}"
    cfg = {"work_dir": str(tmp_path), "command": "sleep 300", "env": {"GC_LARGE": value}}
    res = tmux_provider.run("start", name, stdin=json.dumps(cfg))
    try:
        assert res.rc == 0, res.err
        assert tmux_provider.ok("is-running", name) == "true"
        out = subprocess.run(["tmux", "-S", str(tmux_socket), "display-message", "-p", "-t",
                              f"={name}:", "#{pane_pid}"], capture_output=True, text=True,
                             check=True).stdout
        pid = int(out)
        environ = Path(f"/proc/{pid}/environ")
        assert wait_for(lambda: b"GC_LARGE=" + value.encode() in environ.read_bytes().split(b"\0"),
                        timeout=30)
        assert os.path.exists(f"/proc/{pid}")
    finally:
        tmux_provider.run("stop", name)
