"""A signal at any point of `start` in a pod rolls back: exit non-zero, no pod left.

Each phase stops at a `gate.Gate` in a kubectl wrapper (`GC_KUBECTL`, the kubectl
transport: every exec is one kubectl process), stopping at the exec of that phase, so the
signal lands exactly there.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
from gate import Gate
from helpers import wait_for
from k8s_helpers import KUBECTL, K8s

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]

#: phase -> (config, the sh case pattern of the kubectl argument that phase's exec carries)
PHASES: dict[str, tuple[dict[str, Any], str]] = {
    "launch": ({}, "start-server"),
    "process wait": ({"process_names": ["gc-never-runs"]}, "'#{pane_pid} '*"),
    "ready prompt wait": ({"ready_prompt_prefix": "never-ready> "}, "capture-pane"),
    "session_setup": ({"session_setup": ["echo gc-setup-mark"]}, "*gc-setup-mark*"),
    "session_setup_script": ({"session_setup_script": "SCRIPT"}, "*'exec sh -s'*"),
    "config nudge": ({"nudge": "hello from the config"}, "*gc-nudge-*"),
    "session_live": ({"session_live": ["echo gc-live-mark"]}, "*gc-live-mark*"),
}


def pods_of(k8s: K8s, name: str) -> list[dict[str, Any]]:
    return [p for p in k8s.pods()
            if (p["metadata"].get("annotations") or {}).get("gc-session-name") == name]


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("phase", list(PHASES))
def test_a_signal_in_any_phase_of_a_pod_start_rolls_back_and_leaves_no_pod(
    k8s: K8s, tmp_path: Path, phase: str, sig: int
) -> None:
    gate = Gate(tmp_path / "gate")
    extra, pattern = PHASES[phase]
    kubectl = gate.wrapper(tmp_path / "gated-kubectl", KUBECTL, pattern)
    name = k8s.name("sig")
    if extra.get("session_setup_script"):
        script = tmp_path / "setup.sh"
        script.write_text("echo set up\n")
        extra = {"session_setup_script": str(script)}
    cfg = {"command": "sleep 300", **extra}
    proc = k8s.spawn("start", name, stdin=orjson.dumps(cfg), new_session=True,
                     env={"GC_KUBECTL": kubectl, "GC_K8S_TRANSPORT": "kubectl"})
    try:
        assert wait_for(gate.reached.exists, timeout=90), phase
        os.killpg(proc.pid, sig)
        gate.release()
        proc.wait(timeout=60)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, (phase, err)
    assert "rolled back" in err, err
    assert wait_for(lambda: not pods_of(k8s, name), timeout=60), f"pod of {name} left after {phase}"


def test_an_interrupted_start_has_its_pod_deleted_before_it_exits(k8s: K8s, tmp_path: Path) -> None:
    # What runs right after the interrupted start (gc's is-running, a kit's check) must not
    # find the pod: the rollback's delete is answered before start exits, even when a
    # kubectl process would be too slow to (here: one that takes 30 s to delete anything).
    gate = Gate(tmp_path / "gate")
    kubectl = tmp_path / "slow-delete-kubectl"
    kubectl.write_text("#!/bin/sh\n"
                       f'for a in "$@"; do case $a in *gc-nudge-*) {gate.sh} ;; '
                       "delete) sleep 30 ;; esac; done\n"
                       f'exec {KUBECTL} "$@"\n')
    kubectl.chmod(0o755)
    name = k8s.name("sig")
    k8s.started.append(name)
    proc = k8s.spawn("start", name, stdin=orjson.dumps({"command": "sleep 300", "nudge": "hi"}),
                     new_session=True, env={"GC_KUBECTL": str(kubectl), "GC_K8S_TRANSPORT": "kubectl"})
    try:
        assert wait_for(gate.reached.exists, timeout=90)
        os.killpg(proc.pid, signal.SIGTERM)
        gate.release()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    left = [p["metadata"]["name"] for p in pods_of(k8s, name)
            if not p["metadata"].get("deletionTimestamp")]
    assert left == [], f"pods still live when the interrupted start exited: {left}"


def test_the_rollback_never_deletes_a_pod_made_since_under_the_same_name(k8s: K8s) -> None:
    from providers.kube import client
    from providers.kube.settings import KubeSettings

    name = k8s.name("same")
    assert k8s.start(name).rc == 0
    pod = pods_of(k8s, name)[0]
    settings = KubeSettings.from_env(k8s.env)
    assert not client.delete_pod(pod["metadata"]["name"], uid="an-earlier-pods-uid",
                                 grace_seconds=0, settings=settings, timeout=10)
    assert [p["metadata"]["uid"] for p in pods_of(k8s, name)] == [pod["metadata"]["uid"]]
