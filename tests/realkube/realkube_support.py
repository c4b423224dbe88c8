"""Helpers for tests against the real kube-apiserver: kubectl as admin, a namespace
set up from examples/k8s, and gc-session-k8s authenticated as its ServiceAccount."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import orjson
from helpers import Completed, Provider, executable
from realkube import RealKube

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "k8s"
#: The venv's kubectl (the project's own, 1.37): within the skew policy of kube 1.37.
KUBECTL = shutil.which("kubectl", path=sysconfig.get_path("scripts")) or "kubectl"
#: Any name: the node agent runs host binaries, the "image" is the host.
IMAGE = "gc-test/agent:host"
#: The uid agent pods run as, so `restricted` admits them.
RUN_AS_USER = "1000"
SA = "gc-controller"
ROLE = "gc-session-k8s"


class Cluster:
    """The control plane plus admin kubectl."""

    def __init__(self, rk: RealKube) -> None:
        self.rk = rk

    def kubectl(self, *args: str, stdin: str | None = None,
                kubeconfig: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, f"--kubeconfig={kubeconfig or self.rk.admin_kubeconfig}", *args],
                              input=stdin, capture_output=True, text=True, timeout=120, check=False)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        res = self.kubectl(*args, stdin=stdin)
        if res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {res.stderr}")
        return res.stdout

    def manifests(self, path: Path, namespace: str) -> list[dict[str, Any]]:
        """A manifest file as JSON objects (kubectl parses the YAML), moved to `namespace`."""
        text = path.read_text().replace("namespace: gc\n", f"namespace: {namespace}\n")
        text = text.replace("  name: gc\n", f"  name: {namespace}\n")
        # One document at a time: for several, kubectl prints concatenated JSON objects.
        return [orjson.loads(self.ok("create", "--dry-run=client", "-o", "json", "-f", "-", stdin=doc))
                for doc in text.split("\n---\n")]

    def apply(self, objects: list[dict[str, Any]]) -> None:
        self.ok("apply", "-f", "-", stdin=orjson.dumps({"apiVersion": "v1", "kind": "List",
                                                        "items": objects}).decode())


class ControllerNamespace:
    """One test's namespace and gc-session-k8s running as the controller's ServiceAccount."""

    def __init__(self, cluster: Cluster, namespace: str, provider: Provider, kubeconfig: Path) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.provider = provider
        self.kubeconfig = kubeconfig
        self.started: list[str] = []

    def rbac(self) -> list[dict[str, Any]]:
        return self.cluster.manifests(EXAMPLES / "rbac.yaml", self.namespace)

    def role(self) -> dict[str, Any]:
        return next(o for o in self.rbac() if o["kind"] == "Role")

    def set_role_rules(self, rules: list[dict[str, Any]]) -> None:
        role = self.role()
        role["rules"] = rules
        self.cluster.apply([role])

    def start(self, name: str, cfg: dict[str, Any] | None = None, *, timeout: float = 120) -> Completed:
        self.started.append(name)
        payload = orjson.dumps(cfg if cfg is not None else {"command": "sleep 300"})
        return self.provider.run("start", name, stdin=payload, timeout=timeout)

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl("-n", self.namespace, *args)

    def agent_pods(self) -> list[dict[str, Any]]:
        out = orjson.loads(self.cluster.ok("-n", self.namespace, "get", "pods", "-l", "app=gc-agent",
                                           "-o", "json"))
        pods: list[dict[str, Any]] = out["items"]
        return pods


def token_kubeconfig(cluster: Cluster, namespace: str, out: Path) -> Path:
    """A kubeconfig with a bound token of the namespace's gc-controller ServiceAccount."""
    token = cluster.ok("-n", namespace, "create", "token", SA, "--duration=2h").strip()
    config = orjson.loads(Path(cluster.rk.admin_kubeconfig).read_bytes())
    config["users"] = [{"name": SA, "user": {"token": token}}]
    config["contexts"][0]["context"] = {"cluster": "realkube", "user": SA, "namespace": namespace}
    out.write_bytes(orjson.dumps(config))
    out.chmod(0o600)
    return out


def provider_env(kubeconfig: Path, namespace: str, tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    (home / ".kube").mkdir(parents=True, exist_ok=True)
    state = tmp / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GC_", "KUBE")) and k.lower() not in ("http_proxy", "https_proxy", "tmux")}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(home), KUBECACHEDIR=str(home / ".kube" / "cache"),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               GC_KUBECTL=KUBECTL, GC_K8S_IMAGE=IMAGE, GC_K8S_NAMESPACE=namespace,
               GC_K8S_RUN_AS_USER=RUN_AS_USER, GC_EXEC_STATE_DIR=str(state),
               GC_NUDGE_DEBOUNCE_MS="100",
               # the kubectl door, as the rest of the suite (tests/conftest.py); the fast
               # doors: test_realkube_transports.py
               GC_K8S_TRANSPORT="kubectl")
    return env


def controller_namespace(cluster: Cluster, tmp: Path, *,
                         enforce: str = "restricted") -> Generator[ControllerNamespace, None, None]:
    """The namespace enforces Pod Security `enforce` (`privileged` admits hostPath work dirs)."""
    namespace = f"gc-{uuid.uuid4().hex[:8]}"
    ns_obj = cluster.manifests(EXAMPLES / "namespace.yaml", namespace)
    for obj in ns_obj:
        obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = enforce
    cluster.apply(ns_obj)
    cluster.apply(cluster.manifests(EXAMPLES / "rbac.yaml", namespace))
    kubeconfig = token_kubeconfig(cluster, namespace, tmp / "controller.kubeconfig")
    ctl = ControllerNamespace(cluster, namespace,
                              Provider(executable("gc-session-k8s"), provider_env(kubeconfig, namespace, tmp)),
                              kubeconfig)
    try:
        yield ctl
    finally:
        cluster.apply(ctl.rbac())  # a test may have cut the Role down
        for name in ctl.started:
            ctl.provider.run("stop", name, timeout=120)
        cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=60s")


def run_kit(ctl: ControllerNamespace, *extra: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The conformance kit against the controller's gc-session-k8s (``env``: its whole env)."""
    exe = shutil.which("gc-provider-conformance", path=sysconfig.get_path("scripts"))
    argv = [exe] if exe else [sys.executable, "-m", "protocol.conformance"]
    return subprocess.run([*argv, ctl.provider.argv[-1], *extra], env=env or ctl.provider.env,
                          capture_output=True, text=True, timeout=3000, check=False)
