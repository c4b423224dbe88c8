"""gc-session-k8s against the offline API server, with the real kubectl, as gc runs it:
the provider bound to a fake cluster (the fixtures in conftest.py build it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import TEST_TIMING, Completed, Provider, executable, stop_helper

KUBECTL = "/usr/bin/kubectl"
IMAGE = "gc-test/agent:latest"
NAMESPACE = "gc"


class K8s(Provider):
    """The provider bound to one fake cluster, plus helpers to look at the cluster."""

    def __init__(self, argv: list[str], env: dict[str, str], server: Any, audit: Path) -> None:
        super().__init__(argv, env)
        self.server = server
        self.audit = audit
        self.started: list[str] = []

    def name(self, stem: str = "s") -> str:
        # 7 hex digits: a name ending in "-" and 8 hex digits looks hashed and gets a
        # hashed pod name (protocol.sanitize.looks_hashed); tests read pods by the name
        return f"{stem}-{uuid.uuid4().hex[:7]}"

    def start(self, name: str, cfg: dict[str, Any] | None = None, *, timeout: float = 90,
              env: dict[str, str] | None = None) -> Completed:
        self.started.append(name)
        payload = orjson.dumps(cfg if cfg is not None else {"command": "sleep 300"})
        return self.run("start", name, stdin=payload, timeout=timeout, env=env)

    def pods(self) -> list[dict[str, Any]]:
        with self.server.store.lock:
            return [p for p in self.server.store.list("pods", NAMESPACE)
                    if (p["metadata"].get("labels") or {}).get("app") == "gc-agent"]

    def pod(self, pod_name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.server.pod(NAMESPACE, pod_name)
        return found

    def audit_lines(self, *, with_ops: bool = False) -> list[dict[str, Any]]:
        """The audit log's per-call lines (``with_ops``: each op's own line too, ``"kind": "op"``)."""
        if not self.audit.exists():
            return []
        lines = [orjson.loads(line) for line in self.audit.read_bytes().splitlines() if line]
        return lines if with_ops else [line for line in lines if line.get("kind") != "op"]

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, "-n", NAMESPACE, *args], env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)


def provider_env(kube_env: dict[str, str], state: Path, audit: Path,
                 runtime_dir: str) -> dict[str, str]:
    env = dict(kube_env)
    for key in [k for k in env if k.startswith("GC_K8S_") or k == "GC_SESSION"]:
        del env[key]
    env.update({k: os.environ[k] for k in TEST_TIMING if k in os.environ})  # the suite's timing
    env.update(GC_KUBECTL=KUBECTL, GC_K8S_IMAGE=IMAGE, GC_K8S_NAMESPACE=NAMESPACE,
               GC_EXEC_STATE_DIR=str(state), GC_K8S_AUDIT_LOG=str(audit),
               GC_NUDGE_DEBOUNCE_MS="100",
               # the default, as gc runs us: the helper once one runs, else direct, else
               # kubectl; a test about one transport sets it (test_conformance_transports.py
               # forces each), and the helper started lives in this provider's runtime dir
               GC_K8S_TRANSPORT="auto", GC_K8S_RUNTIME_DIR=runtime_dir)
    env.pop("TMUX", None)
    return env


def provider_on(fake: Any, tmp_path: Path) -> Iterator[K8s]:
    """gc-session-k8s against one fake API server (either backend); cleans up after."""
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"{KUBECTL} is not installed")
    fake.namespace(NAMESPACE)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    audit = tmp_path / "audit.jsonl"
    # Short, under /tmp: the helper's unix socket lives there (sun_path is 108 bytes).
    runtime = tempfile.mkdtemp(prefix="gck-", dir="/tmp")
    provider = K8s(executable("gc-session-k8s"), provider_env(fake.env, state, audit, runtime + "/run"),
                   fake.server, audit)
    try:
        yield from cleaned_up(provider)
    finally:
        stop_helper(runtime + "/run")
        shutil.rmtree(runtime, ignore_errors=True)


def cleaned_up(provider: K8s) -> Iterator[K8s]:
    yield provider
    for name in provider.started:
        provider.run("stop", name)
    for pod in provider.pods():  # anything a failed test left behind
        provider.kubectl("delete", "pod", pod["metadata"]["name"], "--grace-period=0",
                         "--ignore-not-found", "--wait=false")
