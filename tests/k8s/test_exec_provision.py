"""RPP ops: exec (RPP-CONN-001), provision (box without agent), protocol, check-image."""

from __future__ import annotations

import orjson
from k8s_helpers import K8s


def test_handshake_declares_the_verified_capabilities(k8s: K8s) -> None:
    info = orjson.loads(k8s.ok("protocol"))
    assert info["version"] == 0
    assert set(info["capabilities"]) == {"report-activity", "report-attachment", "proc.exec",
                                         "proc.provision", "proc.stream", "env.workspace",
                                         "env.identity", "env.transcripts"}


def test_exec_merges_output_passes_the_exit_code_and_runs_in_the_box(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sleep 300", "env": {"GC_SESSION_ID": "box-1"}}).rc == 0
    res = k8s.run("exec", name, stdin="'sh' '-c' 'echo out; echo err >&2; pwd; "
                                      "echo $GC_SESSION_ID; exit 2'")
    assert res.rc == 2
    assert res.out.splitlines() == ["out", "err", "/workspace", "box-1"]
    assert k8s.run("exec", name, stdin="'tmux' 'send-keys' '-t' 'main' 'Enter'").rc == 0


def test_exec_into_a_missing_session_is_a_transport_failure(k8s: K8s) -> None:
    res = k8s.run("exec", "no-such-session", stdin="true")
    assert res.rc == 1 and res.err


def test_provision_builds_the_box_without_the_agent(k8s: K8s) -> None:
    name = k8s.name()
    k8s.started.append(name)
    cfg = {"command": "sleep 300", "pre_start": ["echo pre > /workspace/pre"],
           "session_setup": ["echo setup > /workspace/setup"]}
    res = k8s.run("provision", name, stdin=orjson.dumps(cfg), timeout=90)
    assert res.rc == 0, res.err
    assert k8s.ok("is-running", name) == "false"
    assert k8s.ok("exec", name, stdin="cat /workspace/pre /workspace/setup") == "pre\nsetup"
    # gc then launches the agent over exec, through the tmux carrier.
    launch = "'tmux' 'new-session' '-d' '-s' 'main' 'sleep 300'"
    assert k8s.run("exec", name, stdin=launch).rc == 0
    assert k8s.ok("is-running", name) == "true"


def test_check_image_validates_the_reference(k8s: K8s) -> None:
    for good in ("ubuntu", "ghcr.io/org/agent:1.2", "localhost:5000/a/b@sha256:" + "a" * 64):
        assert k8s.run("check-image", good).rc == 0, good
    for bad in ("UPPER/case", "a b", "img::tag", "-flag"):
        assert k8s.run("check-image", bad).rc == 1, bad


def test_is_attached_is_false_for_a_detached_session(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    assert k8s.ok("is-attached", name) == "false"


def test_a_cancelled_exec_leaves_no_kubectl_behind(k8s: K8s) -> None:
    import os
    import signal
    import time

    name = k8s.name()
    assert k8s.start(name).rc == 0
    # kubectl: through the helper a cancelled exec's command runs on in the pod (the
    # helper's stream outlives its client), which this test would rightly call a leak.
    proc = k8s.spawn("exec", name, stdin=b"sleep 60", new_session=True,
                     env={"GC_K8S_TRANSPORT": "kubectl"})
    time.sleep(1.5)
    kids = [p for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc.pid]
    assert kids, "kubectl should be running"
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) != 0
    time.sleep(0.3)
    assert not [k for k in kids if os.path.exists(f"/proc/{k}") and _alive(int(k))]


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
