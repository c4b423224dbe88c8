"""The node agent gives each pod its own root: mountpoints and working dirs the host lacks
are made inside the pod (a tmpfs mirroring the host's / by bind mounts), never on the
host, and everything the pod wrote is gone once the pod is deleted."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import wait_for
from realkube_support import IMAGE, Cluster

pytestmark = pytest.mark.realkube


class Probe:
    """Paths a probe pod uses, each absent on the host: a volume under /, one two
    levels under /opt (a host dir the pod sees too), a working dir, and a file the
    pod (as root) writes straight into the top of its root."""

    def __init__(self) -> None:
        self.tag = f"gc-rk-probe-{uuid.uuid4().hex[:12]}"
        self.top = f"/{self.tag}"
        self.opt = f"/opt/{self.tag}/deep"
        self.workdir = f"/{self.tag}-wd"
        self.loose = f"/{self.tag}-file"

    def host_traces(self) -> list[str]:
        """What of the probe exists on the host (nothing, ever)."""
        paths = (self.top, f"/opt/{self.tag}", self.workdir, self.loose)
        return [p for p in paths if os.path.lexists(p)]

    def pod(self, name: str, startup: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {
                "terminationGracePeriodSeconds": 5,
                "volumes": [{"name": "top", "emptyDir": {}}, {"name": "opt", "emptyDir": {}}],
                "containers": [{
                    "name": "c", "image": IMAGE, "workingDir": self.workdir,
                    "command": ["sh", "-c", f"{startup} && exec sleep 300"],
                    "volumeMounts": [{"name": "top", "mountPath": self.top},
                                     {"name": "opt", "mountPath": self.opt}],
                }],
            },
        }


class Bed:
    """A plain namespace of the shared control plane and kubectl scoped to it."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace

    def ok(self, *args: str, stdin: str | None = None) -> str:
        return self.cluster.ok("-n", self.namespace, *args, stdin=stdin)

    def run_pod(self, manifest: dict[str, Any]) -> str:
        """Create the pod, wait until it is Ready; return its uid."""
        name = manifest["metadata"]["name"]
        self.ok("create", "-f", "-", stdin=orjson.dumps(manifest).decode())
        self.ok("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s")
        uid: str = self.ok("get", "pod", name, "-o", "jsonpath={.metadata.uid}")
        return uid

    def sh(self, pod: str, script: str) -> str:
        """Run a script in the pod (kubectl exec, which enters the pod's root)."""
        return self.ok("exec", pod, "--", "sh", "-c", script)

    def pod_dir(self, uid: str) -> Path:
        return self.cluster.rk.dir / "agent" / "pods" / uid


def agent_uses_namespaces(cluster: Cluster) -> bool:
    """Without namespaces (not root, no unshare) the agent has no pod roots to test."""
    log = (cluster.rk.logs / "node-agent.log").read_text(errors="replace")
    return "namespaces=true" in log


@pytest.fixture
def bed(real_kube: Cluster) -> Iterator[Bed]:
    if not agent_uses_namespaces(real_kube):
        pytest.skip("the node agent runs pods without namespaces here (needs root and unshare)")
    namespace = f"gc-root-{uuid.uuid4().hex[:8]}"
    real_kube.ok("create", "namespace", namespace)
    try:
        # The controller-manager creates the ServiceAccount pods are admitted with.
        assert wait_for(lambda: real_kube.kubectl("-n", namespace, "get", "serviceaccount", "default")
                        .returncode == 0, timeout=60)
        yield Bed(real_kube, namespace)
    finally:
        real_kube.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=60s")


def test_pod_writes_at_mountpoints_the_host_lacks_and_leaves_no_trace(bed: Bed) -> None:
    probe = Probe()
    assert probe.host_traces() == []
    uid = bed.run_pod(probe.pod("probe", f"echo started > {probe.top}/by-container"))

    assert bed.sh("probe", "pwd") == probe.workdir + "\n"
    assert bed.sh("probe", f"cat {probe.top}/by-container") == "started\n"
    for path in (probe.top, probe.opt):
        assert bed.sh("probe", f"echo written > {path}/f && cat {path}/f") == "written\n"
    # The pod still sees the host's own entries of the dir its mountpoint was made in.
    before = set(os.listdir("/opt"))
    in_pod = set(bed.sh("probe", "ls -A /opt").split())
    assert before & set(os.listdir("/opt")) <= in_pod
    assert probe.tag in in_pod
    assert probe.host_traces() == []
    # What the pod wrote lives in the pod's own dir on the node...
    volumes = bed.pod_dir(uid) / "volumes"
    assert (volumes / "top" / "f").read_text() == "written\n"
    assert (volumes / "opt" / "f").read_text() == "written\n"

    bed.ok("delete", "pod", "probe", "--wait=true", "--timeout=60s")
    # ...and goes with it; the host never had any of it.
    assert wait_for(lambda: not bed.pod_dir(uid).exists(), timeout=30)
    assert probe.host_traces() == []


def test_two_pods_with_the_same_mountpoint_each_see_only_their_own(bed: Bed) -> None:
    probe = Probe()
    for name in ("left", "right"):
        bed.run_pod(probe.pod(name, f"echo {name} > {probe.top}/who && echo {name} > {probe.loose}"))
    for name in ("left", "right"):
        assert bed.sh(name, f"cat {probe.top}/who") == f"{name}\n"
        # Written at the top of the pod's root by a root process: on the pod's own tmpfs.
        assert bed.sh(name, f"cat {probe.loose}") == f"{name}\n"
    assert probe.host_traces() == []
    bed.ok("delete", "pod", "left", "right", "--wait=true", "--timeout=60s")
    assert probe.host_traces() == []
