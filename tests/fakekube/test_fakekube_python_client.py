"""The `kubernetes` Python client against the fake: CRUD, watch, exec exit codes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fakekube_manifests import agent_pod

from protocol.conformance.fakekube.fixtures import FakeKubeEnv

# Module objects are typed Any: the client's own functions are untyped.
client = pytest.importorskip("kubernetes.client")
config = pytest.importorskip("kubernetes.config")
watch = pytest.importorskip("kubernetes.watch")
stream = pytest.importorskip("kubernetes.stream").stream
ApiException = pytest.importorskip("kubernetes.client.exceptions").ApiException


@pytest.fixture
def core(fake_kube: FakeKubeEnv) -> Iterator[Any]:
    api = config.new_client_from_config(config_file=fake_kube.kubeconfig)
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


@pytest.fixture
def exec_core(fake_kube: FakeKubeEnv) -> Iterator[Any]:
    # stream() swaps the ApiClient's request function: give it a client of its own.
    api = config.new_client_from_config(config_file=fake_kube.kubeconfig)
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def _running(core: Any, fake_kube: FakeKubeEnv, name: str, **kw: Any) -> None:
    fake_kube.namespace()
    core.create_namespaced_pod("gc", agent_pod(name, **kw))
    fake_kube.server.wait_pod("gc", name)


def test_create_read_list_delete_with_schema_valid_objects(core: Any, fake_kube: FakeKubeEnv) -> None:
    fake_kube.namespace()
    created = core.create_namespaced_pod("gc", agent_pod("py-crud", command="sleep infinity"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    fake_kube.server.wait_pod("gc", "py-crud")
    pod = core.read_namespaced_pod("py-crud", "gc")
    assert pod.status.phase == "Running"
    types = {c.type: c.status for c in pod.status.conditions}
    assert types["Ready"] == types["ContainersReady"] == types["PodScheduled"] == "True"
    cs = pod.status.container_statuses[0]
    assert cs.ready and cs.started and cs.state.running is not None and isinstance(cs.image_id, str)
    listed = core.list_namespaced_pod("gc", label_selector="gc-session=py-crud,app in (gc-agent)")
    assert [p.metadata.name for p in listed.items] == ["py-crud"]
    assert core.list_namespaced_pod("gc", label_selector="gc-session!=py-crud,gc-session=py-crud").items == []
    by_phase = core.list_namespaced_pod("gc", field_selector="status.phase=Running,metadata.name=py-crud")
    assert len(by_phase.items) == 1
    core.delete_namespaced_pod("py-crud", "gc", grace_period_seconds=0)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("py-crud", "gc")
    assert err.value.status == 404


def test_create_existing_pod_is_409_already_exists(core: Any, fake_kube: FakeKubeEnv) -> None:
    _running(core, fake_kube, "py-dup", command="sleep infinity")
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("gc", agent_pod("py-dup"))
    assert err.value.status == 409
    assert '"reason":"AlreadyExists"' in err.value.body
    core.delete_namespaced_pod("py-dup", "gc", grace_period_seconds=0)


def test_watch_sees_added_running_and_deleted(core: Any, fake_kube: FakeKubeEnv) -> None:
    fake_kube.namespace()
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for ev in w.stream(core.list_namespaced_pod, "gc", label_selector="gc-session=py-watch",
                           timeout_seconds=20):
            seen.append((ev["type"], ev["object"].status.phase))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.5)  # let the watch register before the pod appears
    core.create_namespaced_pod("gc", agent_pod("py-watch", command="sleep infinity"))
    fake_kube.server.wait_pod("gc", "py-watch")
    core.delete_namespaced_pod("py-watch", "gc")
    t.join(timeout=30)
    types = [t_ for t_, _ in seen]
    assert types[0] == "ADDED" and types[-1] == "DELETED"
    assert ("MODIFIED", "Running") in seen


def test_exec_returns_output_and_exit_codes(exec_core: Any, fake_kube: FakeKubeEnv) -> None:
    _running(exec_core, fake_kube, "py-exec", command="sleep infinity")
    out = stream(exec_core.connect_get_namespaced_pod_exec, "py-exec", "gc",
                 command=["sh", "-c", "echo hi; echo there"], stderr=True, stdin=False,
                 stdout=True, tty=False)
    assert out == "hi\nthere\n"
    resp = stream(exec_core.connect_get_namespaced_pod_exec, "py-exec", "gc",
                  command=["tmux", "has-session", "-t", "nope"], stderr=True, stdin=False,
                  stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 1
    resp.close()
    fake_kube.server.kubelet.delete_pod("gc", "py-exec", 0)


def test_exec_stdin_text_frames_and_v5_close(exec_core: Any, fake_kube: FakeKubeEnv) -> None:
    _running(exec_core, fake_kube, "py-stdin", command="sleep infinity")
    resp = stream(exec_core.connect_get_namespaced_pod_exec, "py-stdin", "gc",
                  command=["sh", "-c", "cat; exit 4"], stderr=True, stdin=True, stdout=True,
                  tty=False, _preload_content=False)
    resp.write_stdin("typed text\n")
    resp.close_channel(0)  # v5: stdin EOF, so `cat` ends
    out = ""
    while resp.is_open():
        resp.update(timeout=1)
        out += resp.read_stdout() if resp.peek_stdout() else ""
        if resp.returncode is not None:
            break
    assert "typed text" in out
    assert resp.returncode == 4
    resp.close()
    fake_kube.server.kubelet.delete_pod("gc", "py-stdin", 0)


def test_secrets_and_configmaps_crud_and_env_projection(core: Any, fake_kube: FakeKubeEnv) -> None:
    fake_kube.namespace()
    core.create_namespaced_secret("gc", {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}})
    core.create_namespaced_config_map("gc", {"metadata": {"name": "cfg"}, "data": {"mode": "fast"}})
    assert core.read_namespaced_secret("creds", "gc").data["token"] == "czNjcmV0"
    core.patch_namespaced_config_map("cfg", "gc", {"data": {"mode": "slow"}})
    assert core.read_namespaced_config_map("cfg", "gc").data == {"mode": "slow"}
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
           {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
           {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    core.create_namespaced_pod("gc", agent_pod("py-env", command="sleep infinity", extra_env=env))
    fake_kube.server.wait_pod("gc", "py-env")
    r = fake_kube.kubectl("-n", "gc", "exec", "py-env", "--", "sh", "-c", "echo $TOKEN $MODE $POD")
    assert r.stdout == "s3cret slow py-env\n"
    assert [s.metadata.name for s in core.list_namespaced_secret("gc").items] == ["creds"]
    core.delete_namespaced_secret("creds", "gc")
    core.delete_namespaced_config_map("cfg", "gc")
    core.delete_namespaced_pod("py-env", "gc", grace_period_seconds=0)
