"""No process of a pod outlives the test bed: the node agent kills its pods when it is
stopped, and whatever it could not (it was SIGKILLed, crashed, or a pod's sandbox was
still being built) the bed's stop() kills itself. Once, a pod's pod-init outlived a bed.

Each test brings up a bed of its own (no controller-manager: quicker), since it stops it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import orjson
import pytest
from helpers import wait_for
from realkube import RealKube, process_alive
from realkube_support import IMAGE, KUBECTL, Cluster

pytestmark = pytest.mark.realkube


def sleeper(name: str) -> str:
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 5, "automountServiceAccountToken": False,
                 "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "300"]}]},
    }).decode()


def bed_with_running_pod(real_kube: Cluster, where: Path) -> tuple[RealKube, list[int]]:
    """A fresh bed with one Ready pod; returns it and the pod's processes."""
    rk = RealKube(where, bindir=real_kube.rk.bin, controller_manager=False).start()
    try:
        rk.ensure_default_sa("default")
        kubectl = [KUBECTL, f"--kubeconfig={rk.admin_kubeconfig}", "-n", "default"]
        subprocess.run([*kubectl, "create", "-f", "-"], input=sleeper("sleeper"), text=True,
                       check=True, capture_output=True, timeout=60)
        subprocess.run([*kubectl, "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=90s"],
                       check=True, capture_output=True, timeout=120)
        assert wait_for(lambda: rk.pod_processes() != [], timeout=30)
        return rk, rk.pod_processes()
    except BaseException:
        rk.stop()
        raise


def test_a_stopped_agent_kills_every_pod_process_itself(real_kube: Cluster, tmp_path: Path) -> None:
    rk, pids = bed_with_running_pod(real_kube, tmp_path / "bed")
    rk.stop()
    assert rk.leftovers == []
    assert [pid for pid in pids if process_alive(pid)] == []


def test_no_pod_process_outlives_the_bed_when_the_agent_was_sigkilled(
    real_kube: Cluster, tmp_path: Path,
) -> None:
    rk, pids = bed_with_running_pod(real_kube, tmp_path / "bed")
    agent = dict(rk.procs)["node-agent"]
    os.killpg(agent.pid, signal.SIGKILL)
    agent.wait()
    assert [pid for pid in pids if process_alive(pid)] == pids  # the agent's death alone kills none
    rk.stop()
    assert sorted(rk.leftovers) == sorted(pids)
    assert [pid for pid in pids if process_alive(pid)] == []
