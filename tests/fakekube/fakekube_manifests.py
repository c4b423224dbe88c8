"""Pod manifests and small helpers shared by the fakekube tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from protocol.conformance.fakekube.fixtures import AGENT_IMAGE, FakeKubeEnv

# The upstream agent pod shape (session-protocol §4.2), trimmed to what the fake runs.
AGENT_ENTRYPOINT = "tmux new-session -d -s main 'sleep 1000' && sleep infinity"


def agent_pod(name: str, namespace: str = "gc", *, command: str = AGENT_ENTRYPOINT,
              image: str = AGENT_IMAGE, restart: str = "Never", grace: int | None = None,
              init_command: str | None = None, labels: dict[str, str] | None = None,
              extra_env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "agent",
        "image": image,
        "workingDir": "/workspace",
        "command": ["/bin/sh", "-c"],
        "args": [command],
        "env": [{"name": "GC_TMUX_SESSION", "value": "main"}, *(extra_env or [])],
        "stdin": True,
        "tty": True,
        "volumeMounts": [{"name": "ws", "mountPath": "/workspace"}],
    }
    spec: dict[str, Any] = {
        "restartPolicy": restart,
        "containers": [container],
        "volumes": [{"name": "ws", "emptyDir": {}}],
    }
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    if init_command is not None:
        spec["initContainers"] = [{
            "name": "stage", "image": image, "command": ["sh", "-c", init_command],
            "volumeMounts": [{"name": "ws", "mountPath": "/workspace"}],
        }]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {"app": "gc-agent", "gc-session": name},
            "annotations": {"gc-session-name": name},
        },
        "spec": spec,
    }


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def apply(kube: FakeKubeEnv, pod: dict[str, Any], version: str = "1.32") -> None:
    r = kube.kubectl("apply", "-f", "-", input=dumps(pod), version=version)
    assert r.returncode == 0, r.stderr


def wait_until(pred: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def running_pod(kube: FakeKubeEnv, name: str, namespace: str = "gc", **kw: Any) -> dict[str, Any]:
    """Create a pod straight through the server object and wait until it runs."""
    kube.namespace(namespace)
    pod = agent_pod(name, namespace, **kw)
    r = kube.kubectl("apply", "-f", "-", input=dumps(pod))
    assert r.returncode == 0, r.stderr
    return kube.server.wait_pod(namespace, name, "Running")
