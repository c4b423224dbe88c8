"""A pod whose volumes can't be set up yet waits, as under a kubelet: ContainerCreating,
retried, running once they can. Not CreateContainerConfigError, which gc-session-k8s's
start (rightly) takes as final: the node agent once reported every setup failure that way,
and right after a bind the API server's Node authorizer may still refuse the node a
pod's secret, so a fresh session's start failed at once now and then."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from helpers import wait_for
from realkube_support import IMAGE, Cluster

pytestmark = pytest.mark.realkube


@pytest.fixture
def namespace(real_kube: Cluster) -> Iterator[str]:
    ns = f"gc-setup-{uuid.uuid4().hex[:8]}"
    real_kube.ok("create", "namespace", ns)
    try:
        # The controller-manager creates the ServiceAccount pods are admitted with.
        assert wait_for(lambda: real_kube.kubectl("-n", ns, "get", "serviceaccount", "default")
                        .returncode == 0, timeout=60)
        yield ns
    finally:
        real_kube.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=60s")


def pod_with_secret(secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "needs-secret"},
        "spec": {
            "terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
            "volumes": [{"name": "s", "secret": {"secretName": secret}}],
            "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "300"],
                            "volumeMounts": [{"name": "s", "mountPath": "/etc/needed"}]}],
        },
    }


def test_a_pod_whose_secret_is_missing_waits_creating_and_runs_once_it_exists(
    real_kube: Cluster, namespace: str,
) -> None:
    kubectl = ("-n", namespace)
    real_kube.ok(*kubectl, "create", "-f", "-", stdin=orjson.dumps(pod_with_secret("later")).decode())

    def waiting() -> dict[str, Any]:
        pod = orjson.loads(real_kube.ok(*kubectl, "get", "pod", "needs-secret", "-o", "json"))
        statuses = pod["status"].get("containerStatuses") or [{}]
        state: dict[str, Any] = statuses[0].get("state", {}).get("waiting", {})
        return state

    # The agent tried, failed (the secret isn't there) and said why.
    assert wait_for(lambda: "secret" in waiting().get("message", ""), timeout=60)
    assert waiting()["reason"] == "ContainerCreating"

    real_kube.ok(*kubectl, "create", "secret", "generic", "later", "--from-literal=k=v")
    real_kube.ok(*kubectl, "wait", "--for=condition=Ready", "pod/needs-secret", "--timeout=60s")
