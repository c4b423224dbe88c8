"""providers.kube.client against the offline API server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from providers.kube import client, pods
from providers.kube.errors import KubeConflict, KubeForbidden, KubeNotFound, KubeTimeout
from providers.kube.settings import KubeSettings


@pytest.fixture
def settings(fake_kube: Any) -> KubeSettings:
    fake_kube.namespace("gc")
    client._CLIENTS.clear()
    return KubeSettings(namespace="gc", kubeconfig=fake_kube.kubeconfig)


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"t": "x"}},
            "spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "img:1", "command": ["sleep", "60"]}]}}


def test_pod_create_get_list_wait_delete(settings: KubeSettings) -> None:
    name = "p-" + uuid.uuid4().hex[:6]
    client.create_pod(_pod(name), settings)
    with pytest.raises(KubeConflict):
        client.create_pod(_pod(name), settings)
    ready = client.wait_for_pod(name, pods.pod_ready, timeout=30, settings=settings)
    assert ready is not None and pods.pod_ready(ready)
    assert client.get_pod(name, settings)["metadata"]["name"] == name
    assert name in [p["metadata"]["name"] for p in client.list_pods("t=x", settings)]
    assert client.delete_pod(name, grace_seconds=0, settings=settings) is True
    client.wait_for_deletion(name, timeout=30, settings=settings)
    assert client.find_pod(name, settings) is None
    assert client.delete_pod(name, settings=settings) is False
    with pytest.raises(KubeNotFound):
        client.get_pod(name, settings)


def test_wait_times_out_with_kube_timeout(settings: KubeSettings, fake_kube: Any) -> None:
    name = "slow-" + uuid.uuid4().hex[:6]
    fake_kube.server.faults.add("pending", pod=name, times=None)
    client.create_pod(_pod(name), settings)
    try:
        with pytest.raises(KubeTimeout):
            client.wait_for_pod(name, pods.pod_ready, timeout=2, settings=settings)
    finally:
        fake_kube.server.faults.clear()
        client.delete_pod(name, grace_seconds=0, settings=settings)


def test_forbidden_create_is_kube_forbidden(settings: KubeSettings, fake_kube: Any) -> None:
    fake_kube.server.faults.add("deny", verb="create", resource="pods", times=None)
    try:
        with pytest.raises(KubeForbidden, match="cannot create"):
            client.create_pod(_pod("denied"), settings)
    finally:
        fake_kube.server.faults.clear()


def test_configmaps_and_secrets_round_trip(settings: KubeSettings) -> None:
    name = "cm-" + uuid.uuid4().hex[:6]
    client.create_configmap({"metadata": {"name": name}, "data": {"k": "v"}}, settings)
    got = client.get_configmap(name, settings)
    assert got["data"] == {"k": "v"}
    got["data"]["k"] = "w"
    client.replace_configmap(got, settings)
    with pytest.raises(KubeConflict):
        client.replace_configmap(got, settings)  # stale resourceVersion
    assert client.delete_configmap(name, settings) is True
    assert client.delete_configmap(name, settings) is False
    client.create_secret({"metadata": {"name": name}, "stringData": {"a": "b"}}, settings)
    assert client.get_secret(name, settings)["metadata"]["name"] == name
    assert client.delete_secret(name, settings) is True


def test_missing_access_lists_denied_permissions(settings: KubeSettings, fake_kube: Any) -> None:
    checks = [client.AccessCheck("get", "pods"), client.AccessCheck("create", "pods", "exec")]
    assert client.missing_access(checks, settings) == []
    fake_kube.server.faults.add("deny", verb="create", resource="pods/exec", times=None)
    try:
        assert client.missing_access(checks, settings) == [checks[1]]
    finally:
        fake_kube.server.faults.clear()
