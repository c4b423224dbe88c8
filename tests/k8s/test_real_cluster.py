"""Opt-in: the lifecycle against a real cluster (GC_TEST_REAL_CLUSTER=1 with KUBECONFIG).

Needs GC_K8S_IMAGE (an image with sh, tmux, ps, tar) pullable by the cluster and a
namespace (GC_K8S_NAMESPACE, default gc) with examples/k8s/rbac.yaml applied.
"""

from __future__ import annotations

import os
import shutil
import uuid

import orjson
import pytest
from helpers import Provider, executable

pytestmark = pytest.mark.realcluster


@pytest.fixture
def real() -> Provider:
    if os.environ.get("GC_TEST_REAL_CLUSTER") != "1":
        pytest.skip("set GC_TEST_REAL_CLUSTER=1 (with KUBECONFIG and GC_K8S_IMAGE) to run")
    if not os.environ.get("GC_K8S_IMAGE") or not shutil.which(
            os.environ.get("GC_KUBECTL") or "kubectl"):
        pytest.skip("GC_K8S_IMAGE and kubectl are required")
    return Provider(executable("gc-session-k8s"), dict(os.environ))


def test_lifecycle_on_a_real_cluster(real: Provider) -> None:
    name = f"gc-real-{uuid.uuid4().hex[:8]}"
    try:
        assert real.run("start", name, stdin=orjson.dumps({"command": "sleep 300"}),
                        timeout=120).rc == 0
        assert real.ok("is-running", name) == "true"
        real.ok("set-meta", name, "k", stdin="v")
        assert real.ok("get-meta", name, "k") == "v"
        assert name in real.ok("list-running", "gc-real-").split("\n")
    finally:
        real.run("stop", name, timeout=60)
    assert real.ok("is-running", name) == "false"
