"""The start sequence: staging, pre_start, setup, nudge, live — and its rollback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import Provider, Start, wait_for

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable


def test_steps_run_in_gas_city_order(tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    order = tmp_path / "order"
    typed = tmp_path / "typed"
    script = tmp_path / "setup.sh"
    script.write_text(f"echo script >> {order}\n")
    name = start({
        "command": f"sh -c 'stty raw -echo; exec cat > {typed}'",
        "pre_start": [f"echo pre >> {order}"],
        "session_setup": [f"echo setup $GC_SESSION >> {order}", f"echo again >> {order}"],
        "session_setup_script": str(script),
        "nudge": "do the work",
        "session_live": [f"echo live >> {order}"],
    })
    assert order.read_text().split("\n") == ["pre", f"setup {name}", "again", "script", "live", ""]
    assert wait_for(lambda: typed.exists() and typed.read_bytes() == b"do the work\r")


def test_pre_start_failure_aborts_and_leaves_no_session(tmux_provider: Provider, tmp_path: Path) -> None:
    res = tmux_provider.run("start", "prefail", stdin=json.dumps(
        {"work_dir": str(tmp_path), "command": "sleep 300", "pre_start": ["echo nope >&2; exit 3"]}))
    assert res.rc == 1 and "pre_start[0]" in res.err and "nope" in res.err
    assert tmux_provider.ok("is-running", "prefail") == "false"


def test_setup_failures_are_warnings(tmux_provider: Provider, start: Start) -> None:
    name = start({"session_setup": ["exit 4"]})
    assert tmux_provider.ok("is-running", name) == "true"


def test_a_session_that_dies_during_startup_is_an_error(tmux_provider: Provider, tmp_path: Path) -> None:
    res = tmux_provider.run("start", "dies", stdin=json.dumps(
        {"work_dir": str(tmp_path), "command": "sh -c 'sleep 0.3; exit 3'",
         "process_names": ["never-appears"]}))
    assert res.rc == 1 and "died during startup" in res.err
    assert "dies" not in tmux_provider.ok("list-running", "")


def test_ready_prompt_is_awaited_before_the_nudge(tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    typed = tmp_path / "typed"
    name = start({
        "command": f"sh -c 'sleep 1; printf \"READY> \"; stty raw -echo; exec cat > {typed}'",
        "ready_prompt_prefix": "READY>",
        "nudge": "after the prompt",
    })
    assert wait_for(lambda: typed.exists() and typed.read_bytes() == b"after the prompt\r")
    assert tmux_provider.ok("is-running", name) == "true"


def test_overlays_and_copy_files_are_staged_in_order(tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    pack, overlay, work = tmp_path / "pack", tmp_path / "overlay", tmp_path / "work"
    (pack / "per-provider" / "claude").mkdir(parents=True)
    (pack / "shared.txt").write_text("pack")
    (pack / "only-pack.txt").write_text("pack")
    (pack / "per-provider" / "claude" / "hooks.json").write_text("claude")
    (pack / "per-provider" / "codex").mkdir()
    (pack / "per-provider" / "codex" / "codex.json").write_text("codex")
    overlay.mkdir()
    (overlay / "shared.txt").write_text("overlay")
    single = tmp_path / "single.txt"
    single.write_text("copied")
    start({"work_dir": str(work), "env": {"GC_PROVIDER": "claude"},
           "pack_overlay_dirs": [str(pack)], "overlay_dir": str(overlay),
           "copy_files": [{"src": str(single), "rel_dst": "nested/file.txt"},
                          {"src": str(tmp_path / "missing")}]})
    assert (work / "shared.txt").read_text() == "overlay"
    assert (work / "only-pack.txt").read_text() == "pack"
    assert (work / "hooks.json").read_text() == "claude"
    assert not (work / "codex.json").exists() and not (work / "per-provider").exists()
    assert (work / "nested" / "file.txt").read_text() == "copied"


def test_an_overlays_claude_hooks_merge_into_the_work_dirs_settings(tmux_provider: Provider, start: Start,
                                                                    tmp_path: Path) -> None:
    work, pack, overlay = tmp_path / "work", tmp_path / "pack", tmp_path / "overlay"
    for d in (work, pack, overlay / "per-provider" / "claude"):
        (d / ".claude").mkdir(parents=True)
    gc_prime = {"matcher": "", "hooks": [{"type": "command", "command": "gc prime"}]}
    (work / ".claude" / "settings.json").write_text(json.dumps(
        {"model": "opus", "hooks": {"SessionStart": [gc_prime]}}))
    guard = {"matcher": "Bash", "hooks": [{"type": "command", "command": "guard"}]}
    (pack / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"PreToolUse": [guard]}}))
    (overlay / "per-provider" / "claude" / ".claude" / "settings.json").write_text(json.dumps(
        {"model": "sonnet", "hooks": {"Stop": [{"type": "command", "command": "gc hook"}]}}))
    cfg = {"work_dir": str(work), "env": {"GC_PROVIDER": "claude"},
           "pack_overlay_dirs": [str(pack)], "overlay_dir": str(overlay)}
    start(cfg)
    settings = work / ".claude" / "settings.json"
    first = settings.read_text()
    start(cfg)  # a second start over the same work dir (a restart) adds nothing
    assert settings.read_text() == first and first.startswith('{\n  "hooks"') and first.endswith("}\n")
    assert json.loads(first) == {"model": "sonnet", "hooks": {
        "SessionStart": [gc_prime], "PreToolUse": [guard],
        "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "gc hook"}]}]}}


def test_sigterm_during_start_rolls_back(tmux_provider: Provider, tmp_path: Path) -> None:
    marker = tmp_path / "setup-started"
    proc = subprocess.Popen(
        [*tmux_provider.argv, "start", "interrupted"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tmux_provider.env,
    )
    assert proc.stdin
    proc.stdin.write(json.dumps({"work_dir": str(tmp_path), "command": "sleep 300",
                                 "session_setup": [f"touch {marker}; sleep 30"]}).encode())
    proc.stdin.close()
    assert wait_for(marker.exists)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert proc.stderr
    err = proc.stderr.read()
    assert proc.returncode != 0 and b"rolled back" in err
    assert tmux_provider.ok("is-running", "interrupted") == "false"
    assert "interrupted" not in tmux_provider.ok("list-running", "")
    time.sleep(0.2)
    leftover = subprocess.run(["pgrep", "-f", f"touch {marker}; sleep 30"], capture_output=True)
    assert leftover.returncode == 1, "the setup command's process group was killed"


def test_malformed_start_config_exits_1_without_creating(tmux_provider: Provider) -> None:
    for payload in ["{", "[1]", '{"command": 5}', '{"env": {"A": 1}}']:
        res = tmux_provider.run("start", "badjson", stdin=payload)
        assert res.rc == 1 and res.err.count("\n") == 1, (payload, res)
    assert tmux_provider.ok("is-running", "badjson") == "false"


def test_hostile_names_are_rejected_before_anything_runs(tmux_provider: Provider, tmp_path: Path) -> None:
    canary = Path("/tmp/gc-name-injection")
    for name in [f"$(touch {canary})", "a;touch x", "a b", "a.b", "a:b", "-t", "x\ny", "=x"]:
        res = tmux_provider.run("start", name, stdin=json.dumps({"command": "sleep 300"}))
        assert res.rc == 1, name
    assert not canary.exists()
    assert tmux_provider.ok("list-running", "") == ""
