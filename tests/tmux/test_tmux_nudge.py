"""Nudge: literal bytes, submitted once, intact at any size, serialized per session."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import Provider, Start, wait_for

FAST = {"GC_NUDGE_DEBOUNCE_MS": "50"}


def recorder(start: Start, out: Path) -> str:
    """A session whose program records every byte its terminal delivers."""
    return start({"command": f"sh -c 'stty raw -echo; exec cat > {out}'"})


@pytest.mark.parametrize(
    "message",
    ["Enter", "C-c", "-l", "--", "-t other", "hello world", "ünïcødé ✓ 日本語 🚀",
     "line one\nline two\n\nline four", "$(touch /tmp/gc-nudge-injection) `id` ; '\"",
     "Escape Up Down"],
    ids=["enter", "ctrl-c", "flag-l", "double-dash", "flag-t", "plain", "unicode", "multi-line",
         "shell-metacharacters", "several-key-names"],
)
def test_nudge_delivers_the_text_literally_then_one_enter(
    tmux_provider: Provider, start: Start, tmp_path: Path, message: str
) -> None:
    out = tmp_path / "typed.bin"
    name = recorder(start, out)
    res = tmux_provider.run("nudge", name, stdin=message, env=FAST)
    assert res.rc == 0, res.err
    expected = message.encode() + b"\r"
    assert wait_for(lambda: out.exists() and out.read_bytes() == expected), out.read_bytes()[:200]
    assert not Path("/tmp/gc-nudge-injection").exists()


@pytest.mark.parametrize("debounce_ms", ["0", "50"], ids=["one-tmux-call", "pause-then-enter"])
def test_with_or_without_a_pause_a_nudge_types_submits_and_wakes(
    tmux_provider: Provider, start: Start, tmp_path: Path, debounce_ms: str
) -> None:
    out, woke = tmp_path / "typed.bin", tmp_path / "woke"
    name = start({"command": f"sh -c 'trap \"echo winch >> {woke}\" WINCH; stty raw -echo; "
                             f"exec 3<&0; cat <&3 > {out} & while :; do sleep 0.05; done'"})
    tmux_provider.ok("nudge", name, stdin="two\nlines", env={"GC_NUDGE_DEBOUNCE_MS": debounce_ms})
    assert wait_for(lambda: out.exists() and out.read_bytes() == b"two\nlines\r"), out.read_bytes()
    assert wait_for(lambda: woke.exists())


def test_a_large_nudge_arrives_intact(tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    out = tmp_path / "typed.bin"
    name = recorder(start, out)
    message = ("0123456789abcdef" * 8 + "\n") * 900  # ~117 KB
    tmux_provider.ok("nudge", name, stdin=message)
    assert wait_for(lambda: out.exists() and out.stat().st_size == len(message) + 1, timeout=30)
    assert out.read_bytes() == message.encode() + b"\r"


def test_concurrent_nudges_to_one_session_never_interleave(
    tmux_provider: Provider, start: Start, tmp_path: Path
) -> None:
    out = tmp_path / "typed.bin"
    name = recorder(start, out)
    messages = [ch * 20000 for ch in "ABC"]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda m: tmux_provider.run("nudge", name, stdin=m, env=FAST), messages))
    assert all(r.rc == 0 for r in results)
    assert wait_for(lambda: out.exists() and out.stat().st_size == 3 * 20001, timeout=30)
    chunks = out.read_bytes().split(b"\r")[:-1]
    assert sorted(chunks) == [m.encode() for m in messages]


def test_nudge_to_a_missing_session_is_best_effort(tmux_provider: Provider) -> None:
    assert tmux_provider.run("nudge", "nonexistent-conformance-session", stdin="hello").rc == 0


def test_a_nudge_wakes_a_detached_program_with_sigwinch(
    tmux_provider: Provider, start: Start, tmp_path: Path
) -> None:
    woke = tmp_path / "woke"
    name = start({"command": f"sh -c 'trap \"echo winch >> {woke}\" WINCH; while :; do sleep 0.05; done'"})
    tmux_provider.ok("nudge", name, stdin="wake up", env=FAST)
    assert wait_for(lambda: woke.exists() and "winch" in woke.read_text())


def test_a_nudge_leaves_copy_mode_before_typing(tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    out = tmp_path / "typed.bin"
    name = recorder(start, out)
    subprocess.run(["tmux", "-S", tmux_provider.env["GC_TMUX_SOCKET"], "copy-mode", "-t", f"={name}:"], check=True)
    tmux_provider.ok("nudge", name, stdin="after copy mode", env=FAST)
    assert wait_for(lambda: out.exists() and out.read_bytes() == b"after copy mode\r")
