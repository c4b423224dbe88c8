"""`start`: staging, pre_start, readiness, atomic creation and rollback."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
from helpers import wait_for
from k8s_helpers import KUBECTL, K8s


def in_pod(k8s: K8s, name: str, command: str) -> str:
    res = k8s.run("exec", name, stdin=command)
    assert res.rc == 0, res
    return res.out


def test_work_dir_overlays_and_copy_files_are_staged_in_one_stream(k8s: K8s, tmp_path: Path
                                                                    ) -> None:
    city = tmp_path / "city"
    (city / "rig" / "src").mkdir(parents=True)
    (city / "rig" / "src" / "main.py").write_text("print(1)\n")
    overlay = tmp_path / "overlay"
    (overlay / "per-provider" / "claude" / ".claude").mkdir(parents=True)
    (overlay / "per-provider" / "codex").mkdir(parents=True)
    (overlay / "AGENTS.md").write_text("overlay\n")
    (overlay / "per-provider" / "claude" / ".claude" / "settings.json").write_text("{}\n")
    (overlay / "per-provider" / "codex" / "no.txt").write_text("x\n")
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "AGENTS.md").write_text("pack (lower priority)\n")
    (pack / "pack.txt").write_text("pack\n")
    single = tmp_path / "hook.json"
    single.write_text('{"hook": 1}\n')
    name = k8s.name()
    cfg = {"work_dir": str(city / "rig"), "command": "sleep 300",
           "env": {"GC_CITY": str(city), "GC_PROVIDER": "claude"},
           "pack_overlay_dirs": [str(pack)], "overlay_dir": str(overlay),
           "copy_files": [{"src": str(single), "rel_dst": ".gc/settings.json"},
                          {"src": str(tmp_path / "missing")}]}
    res = k8s.start(name, cfg)
    assert res.rc == 0, res.err
    files = in_pod(k8s, name, "pwd; cd /workspace && find . -type f | sort; cat rig/AGENTS.md")
    lines = files.splitlines()
    assert lines[0] == "/workspace/rig"
    assert "./rig/src/main.py" in lines
    assert "./rig/.claude/settings.json" in lines
    assert "./rig/pack.txt" in lines
    assert "./.gc/settings.json" in lines
    assert not any("per-provider" in line or "no.txt" in line for line in lines)
    assert "./.gc-ready" not in lines
    assert lines[-1] == "overlay"


def test_settings_files_in_several_layers_are_staged_json_merged(k8s: K8s, tmp_path: Path) -> None:
    work = tmp_path / "rig"
    pack, overlay = tmp_path / "pack", tmp_path / "overlay"
    for d in (work / ".claude", pack / ".claude", overlay / "per-provider" / "claude" / ".claude",
              overlay / ".codex"):
        d.mkdir(parents=True)
    gc_prime = {"matcher": "", "hooks": [{"type": "command", "command": "gc prime"}]}
    (work / ".claude" / "settings.json").write_text(orjson.dumps(
        {"model": "opus", "hooks": {"SessionStart": [gc_prime]}}).decode())
    guard = {"matcher": "Bash", "hooks": [{"type": "command", "command": "guard"}]}
    (pack / ".claude" / "settings.json").write_text(orjson.dumps({"hooks": {"PreToolUse": [guard]}}).decode())
    (overlay / "per-provider" / "claude" / ".claude" / "settings.json").write_text(orjson.dumps(
        {"model": "sonnet", "hooks": {"Stop": [{"type": "command", "command": "gc hook"}]}}).decode())
    (overlay / ".codex" / "hooks.json").write_text('{"hooks": {"Stop": [{"command": "x"}]}}')
    name = k8s.name()
    cfg = {"work_dir": str(work), "command": "sleep 300", "env": {"GC_PROVIDER": "claude"},
           "pack_overlay_dirs": [str(pack)], "overlay_dir": str(overlay)}
    res = k8s.start(name, cfg)
    assert res.rc == 0, res.err
    out = in_pod(k8s, name, "cat .claude/settings.json; echo ==; cat .codex/hooks.json")
    claude, codex = out.split("==\n")
    assert orjson.loads(claude) == {"model": "sonnet", "hooks": {
        "SessionStart": [gc_prime], "PreToolUse": [guard],
        "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "gc hook"}]}]}}
    assert claude.startswith('{\n  "hooks": {\n')
    assert orjson.loads(codex) == {"hooks": {"Stop": [{"command": "x"}]}}


def test_tmp_like_work_dirs_and_the_city_root_are_never_staged(k8s: K8s, tmp_path: Path) -> None:
    pods_before = {p["metadata"]["name"] for p in k8s.pods()}
    name = k8s.name()
    assert k8s.start(name, {"work_dir": "/tmp", "command": "sleep 300"}).rc == 0
    new = [p for p in k8s.pods() if p["metadata"]["name"] not in pods_before]
    assert all(not p["spec"].get("initContainers") for p in new)
    city = tmp_path / "city"
    city.mkdir()
    (city / "big.bin").write_bytes(b"x" * 1000)
    other = k8s.name()
    cfg = {"work_dir": str(city), "command": "sleep 300", "env": {"GC_CITY": str(city)}}
    assert k8s.start(other, cfg).rc == 0
    assert in_pod(k8s, other, "ls -A /workspace").strip() == ""


def test_a_work_dir_missing_on_the_host_is_created_by_the_stage_container(
    k8s: K8s, tmp_path: Path
) -> None:
    # Left to the container runtime, a missing workingDir is created root-owned (gascity #4719).
    city = tmp_path / "city"
    city.mkdir()
    name = k8s.name()
    cfg = {"work_dir": str(city / "rigs" / "fe"), "command": "sleep 300",
           "env": {"GC_CITY": str(city)}}
    assert k8s.start(name, cfg).rc == 0
    pod = k8s.pod(name)
    assert pod is not None and pod["spec"]["initContainers"][0]["name"] == "stage"
    assert pod["spec"]["containers"][0]["workingDir"] == "/workspace/rigs/fe"
    assert in_pod(k8s, name, "pwd; ls -A").split() == ["/workspace/rigs/fe"]


def test_a_persistent_workspace_keeps_the_agents_work_across_a_restart(
    k8s: K8s, tmp_path: Path
) -> None:
    city = tmp_path / "city"
    (city / "rig").mkdir(parents=True)
    (city / "rig" / "notes.md").write_text("from the host\n")
    env = {"GC_K8S_WORKSPACE_PVC": "gc-workspaces"}
    name = k8s.name()
    cfg = {"work_dir": str(city / "rig"), "command": "sleep 300", "env": {"GC_CITY": str(city)}}
    assert k8s.start(name, cfg, env=env).rc == 0
    pod = k8s.pod(name)
    assert pod is not None
    assert pod["spec"]["volumes"][0] == {"name": "ws",
                                         "persistentVolumeClaim": {"claimName": "gc-workspaces"}}
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["subPath"] == name
    in_pod(k8s, name, "echo 'by the agent' > notes.md; echo new > agent.txt")
    k8s.ok("stop", name)
    assert k8s.start(name, cfg, env=env).rc == 0
    assert in_pod(k8s, name, "cat notes.md agent.txt") == "by the agent\nnew\n"
    other = k8s.name()  # another session gets a directory of its own in the claim
    assert k8s.start(other, cfg, env=env).rc == 0
    assert in_pod(k8s, other, "cat notes.md; ls agent.txt 2>&1 || true").startswith(
        "from the host\n")


def test_pre_start_runs_in_the_pod_base64_safe_before_the_agent(k8s: K8s) -> None:
    name = k8s.name()
    cfg = {"command": "sleep 300",
           "pre_start": ["echo one > /workspace/order # a comment would end a pasted line",
                         "sleep 0.1 &", "echo \"two $GC_DIR\" >> /workspace/order"]}
    res = k8s.start(name, cfg)
    assert res.rc == 0, res.err
    assert in_pod(k8s, name, "cat /workspace/order") == "one\ntwo /workspace\n"


def test_a_failing_pre_start_fails_start_and_leaves_no_pod(k8s: K8s) -> None:
    name = k8s.name()
    res = k8s.start(name, {"command": "sleep 300", "pre_start": ["true", "exit 7"]})
    assert res.rc == 1
    assert "pre_start[1] failed with exit 7" in res.err
    assert wait_for(lambda: k8s.pod(name) is None)


def test_hints_setup_and_the_config_nudge_are_honoured(k8s: K8s, tmp_path: Path) -> None:
    script = tmp_path / "setup.sh"
    script.write_text('echo "script $GC_SESSION" > /workspace/script.out\n')
    name = k8s.name()
    cfg = {"command": "sh", "process_names": ["sh"], "ready_prompt_prefix": "# ",
           "session_setup": ["echo \"setup $GC_SESSION\" > /workspace/setup.out"],
           "session_setup_script": str(script), "nudge": "echo nudged-$((40 + 2))",
           "session_live": ["touch /workspace/live.out"]}
    res = k8s.start(name, cfg, env={"PS1": "# "})
    assert res.rc == 0, res.err
    assert wait_for(lambda: "nudged-42" in k8s.ok("peek", name, "50"))
    out = in_pod(k8s, name, "cat /workspace/setup.out /workspace/script.out; ls /workspace")
    assert f"setup {name}" in out and f"script {name}" in out and "live.out" in out


def test_five_concurrent_duplicate_starts_make_exactly_one_pod(k8s: K8s) -> None:
    name = k8s.name()
    k8s.started.append(name)
    payload = orjson.dumps({"command": "sleep 300"})
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: k8s.run("start", name, stdin=payload, timeout=120),
                                range(5)))
    assert sorted(r.rc for r in results) == [0, 1, 1, 1, 1], results
    assert all("already exists" in r.err for r in results if r.rc)
    mine = [p for p in k8s.pods() if p["metadata"]["annotations"]["gc-session-name"] == name]
    assert len(mine) == 1
    assert k8s.ok("is-running", name) == "true"


def test_start_interrupted_by_sigterm_leaves_no_pod(k8s: K8s) -> None:
    name = k8s.name()
    fault = k8s.server.hold_pending(pod=name)
    try:
        proc = k8s.spawn("start", name, stdin=b'{"command":"sleep 300"}', new_session=True)
        assert wait_for(lambda: k8s.pod(name) is not None, timeout=30)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGTERM)
        rc = proc.wait(timeout=10)
        assert rc != 0
        assert wait_for(lambda: k8s.pod(name) is None, timeout=10)
        # No orphaned kubectl children of the interrupted start.
        assert not [p for p in os.listdir("/proc") if p.isdigit() and _is_child_of(int(p), proc.pid)]
    finally:
        k8s.server.faults.remove(fault.id)


def test_a_canceled_start_leaves_a_slow_rollback_delete_running_and_exits_in_time(
        k8s: K8s, tmp_path: Path) -> None:
    """gc SIGKILLs a canceled start 2 s after SIGTERM: when the API server refuses the
    rollback's own delete, the kubectl delete that follows and is slow to finish (a loaded
    machine) is left to finish on its own, and the start exits by itself."""
    slow = tmp_path / "slow-kubectl"
    slow.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = delete ] && sleep 10; done\n'
                    f'exec {KUBECTL} "$@"\n')
    slow.chmod(0o755)
    name = k8s.name()
    fault = k8s.server.hold_pending(pod=name)
    k8s.server.fail(method="DELETE", path=f".*/pods/{name}", status=500, times=1)
    try:
        proc = k8s.spawn("start", name, stdin=b'{"command":"sleep 300"}', new_session=True,
                         env={"GC_KUBECTL": str(slow)})
        assert wait_for(lambda: k8s.pod(name) is not None, timeout=30)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGTERM)
        rc = proc.wait(timeout=30)
        still_there = k8s.pod(name) is not None  # the delete is still in its 10 s sleep
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # gc's SIGKILL finds nothing to cut
        except ProcessLookupError:
            pass
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert rc == 1, (rc, err)  # exited by itself, not SIGKILLed
        assert still_there and "left to finish on its own" in err, err
        assert wait_for(lambda: k8s.pod(name) is None, timeout=60)  # and the delete did finish
        deletes = [line for line in k8s.audit_lines() if "delete" in line["argv"]]
        assert any(line.get("detached") for line in deletes), deletes
    finally:
        k8s.server.faults.remove(fault.id)


def _is_child_of(pid: int, parent: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1]) == parent
    except (OSError, ValueError, IndexError):
        return False


def test_a_young_pending_pod_is_reported_as_initializing_not_replaced(k8s: K8s) -> None:
    name = k8s.name()
    k8s.started.append(name)
    k8s.server.hold_pending(pod=name)
    first = k8s.spawn("start", name, stdin=b'{"command":"sleep 300"}',
                      env={"GC_START_TIMEOUT_S": "25"})
    assert wait_for(lambda: k8s.pod(name) is not None, timeout=30)
    uid = k8s.pod(name)["metadata"]["uid"]  # type: ignore[index]
    second = k8s.start(name, env={"GC_START_TIMEOUT_S": "10"})
    assert second.rc == 1 and "already exists (initializing" in second.err, second
    assert k8s.pod(name)["metadata"]["uid"] == uid  # type: ignore[index]
    assert first.wait(timeout=60) == 75  # still Pending at its deadline: retry later
    assert wait_for(lambda: k8s.pod(name) is None, timeout=10)
