"""What the offline server claims about admission, checked against the real kube-apiserver:
Pod Security `restricted` and ResourceQuota, and that gc-session-k8s's pods pass both."""

from __future__ import annotations

import uuid

import orjson
import pytest
from helpers import wait_for
from realkube_support import ControllerNamespace

pytestmark = pytest.mark.realkube

VIOLATOR = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "violator"},
    "spec": {"containers": [{"name": "c", "image": "any", "command": ["sleep", "60"]}]},
}


def test_restricted_namespace_rejects_a_plain_pod_with_the_real_message(
        controller: ControllerNamespace) -> None:
    res = controller.cluster.kubectl("-n", controller.namespace, "create", "-f", "-",
                                     stdin=orjson.dumps(VIOLATOR).decode(),
                                     kubeconfig=str(controller.kubeconfig))
    assert res.returncode == 1
    assert 'pods "violator" is forbidden: violates PodSecurity "restricted:latest": ' in res.stderr
    for missing in ("allowPrivilegeEscalation != false", "unrestricted capabilities",
                    "runAsNonRoot != true", "seccompProfile"):
        assert missing in res.stderr


def test_session_pod_is_admitted_as_restricted_and_the_session_works(
        controller: ControllerNamespace) -> None:
    p = controller.provider
    name = f"s-{uuid.uuid4().hex[:6]}"
    res = controller.start(name, {"command": "cat"})
    assert res.rc == 0, res.err
    assert p.ok("is-running", name) == "true"
    p.ok("nudge", name, stdin="hello-real-apiserver")
    assert wait_for(lambda: p.ok("peek", name, "20").count("hello-real-apiserver") >= 2, timeout=30)
    pod = controller.agent_pods()[0]
    assert pod["spec"]["securityContext"]["runAsUser"] == 1000
    assert p.run("stop", name, timeout=120).rc == 0
    assert p.ok("is-running", name) == "false"
    assert wait_for(lambda: not controller.agent_pods(), timeout=60)


def test_start_beyond_a_resource_quota_is_retryable_with_the_real_message(
        controller: ControllerNamespace) -> None:
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "one-pod"},
             "spec": {"hard": {"pods": "1"}}}
    controller.cluster.ok("-n", controller.namespace, "create", "-f", "-", stdin=orjson.dumps(quota).decode())

    def tracked() -> bool:  # the quota controller has counted usage: admission now enforces it
        out = orjson.loads(controller.cluster.ok("-n", controller.namespace, "get", "resourcequota",
                                                 "one-pod", "-o", "json"))
        return "pods" in (out.get("status") or {}).get("used", {})

    assert wait_for(tracked, timeout=60)
    first = f"s-{uuid.uuid4().hex[:6]}"
    assert controller.start(first).rc == 0
    res = controller.start(f"s-{uuid.uuid4().hex[:6]}")
    assert res.rc == 75, res
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert "exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1" in res.err


def test_hostpath_work_dir_is_refused_by_restricted_pod_security(controller: ControllerNamespace) -> None:
    """GC_K8S_WORKDIR_HOSTPATH (the offline suite's mode for the strict checks) needs a namespace
    that admits hostPath volumes: `restricted` (and `baseline`) refuse it, exit 1, one line. The
    refusal is a 403 like an RBAC denial, but no role would fix it: the line names Pod Security
    and not RBAC."""
    name = f"s-{uuid.uuid4().hex[:6]}"
    controller.started.append(name)
    res = controller.provider.run("start", name, stdin='{"command": "sleep 300", "work_dir": "/var/tmp"}',
                                  env={"GC_K8S_WORKDIR_HOSTPATH": "1"}, timeout=120)
    assert res.rc == 1
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert ('violates PodSecurity "restricted:latest": restricted volume types '
            '(volume "workdir" uses restricted volume type "hostPath")') in res.err
    assert "Pod Security admission" in res.err
    assert "RBAC" not in res.err
