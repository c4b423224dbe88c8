"""Opt-in: gc-session-k8s against a real cluster, as the controller's least-privilege account.

Two ways in, both skipped unless asked for:

* ``GC_TEST_REAL_CLUSTER=1`` with ``KUBECONFIG`` and ``GC_K8S_IMAGE``: any cluster. The
  namespace (``GC_K8S_NAMESPACE``, default gc) must exist with examples/k8s/rbac.yaml applied.
* ``GC_TEST_K3S=1`` on a machine with Docker and a registry: K3s in a container
  (testcontainers; ``GC_TEST_K3S_IMAGE`` overrides ``rancher/k3s:latest``), the agent image
  built from examples/k8s/Dockerfile and imported into K3s's containerd, examples/k8s's
  namespace and RBAC applied, and the provider run with a token of the ``gc-controller``
  service account, so the Role is proven sufficient.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from helpers import Provider, executable

pytestmark = pytest.mark.realcluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "k8s"
K3S_AGENT_IMAGE = "gc-test/agent:k3s"


def run(argv: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(argv, input=stdin, env=env, capture_output=True, timeout=600, check=False)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:4])}: {res.stderr.decode(errors='replace')}")
    return res.stdout.decode()


def controller_kubeconfig(admin: Path, namespace: str, out: Path) -> Path:
    """A kubeconfig for the ``gc-controller`` service account of examples/k8s/rbac.yaml."""
    kubectl = ["kubectl", f"--kubeconfig={admin}"]
    run([*kubectl, "apply", "-f", str(EXAMPLES / "namespace.yaml")])
    run([*kubectl, "-n", namespace, "apply", "-f", str(EXAMPLES / "rbac.yaml")])
    token = run([*kubectl, "-n", namespace, "create", "token", "gc-controller",
                 "--duration=2h"]).strip()
    config = orjson.loads(run([*kubectl, "config", "view", "--raw", "--minify", "-o", "json"]))
    config["users"] = [{"name": "gc-controller", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "gc-controller"
    out.write_bytes(orjson.dumps(config))
    out.chmod(0o600)
    return out


def k3s_cluster(tmp: Path) -> Iterator[dict[str, str]]:
    """K3s in Docker with the agent image imported; yields the provider's environment."""
    if not shutil.which("docker") or not shutil.which("kubectl"):
        pytest.skip("GC_TEST_K3S=1 needs docker and kubectl")
    from testcontainers.community.k3s import K3SContainer

    run(["docker", "build", "-q", "-t", K3S_AGENT_IMAGE, str(EXAMPLES)])
    with K3SContainer(image=os.environ.get("GC_TEST_K3S_IMAGE") or "rancher/k3s:latest") as k3s:
        container = k3s.get_wrapped_container().id
        image = subprocess.run(["docker", "save", K3S_AGENT_IMAGE], capture_output=True,
                               timeout=600, check=True).stdout
        run(["docker", "exec", "-i", container, "ctr", "-n", "k8s.io", "images", "import", "-"],
            stdin=image)
        admin = tmp / "admin.kubeconfig"
        admin.write_text(k3s.config_yaml())
        kubeconfig = controller_kubeconfig(admin, "gc", tmp / "controller.kubeconfig")
        yield {"KUBECONFIG": str(kubeconfig), "GC_K8S_IMAGE": K3S_AGENT_IMAGE,
               "GC_K8S_NAMESPACE": "gc", "GC_K8S_RUN_AS_USER": "1000"}


@pytest.fixture(scope="module")
def cluster_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if os.environ.get("GC_TEST_K3S") == "1":
        yield from k3s_cluster(tmp_path_factory.mktemp("k3s"))
        return
    if os.environ.get("GC_TEST_REAL_CLUSTER") != "1":
        pytest.skip("set GC_TEST_REAL_CLUSTER=1 (with KUBECONFIG and GC_K8S_IMAGE) or GC_TEST_K3S=1 "
                    "(Docker and a registry) to run")
    if not os.environ.get("GC_K8S_IMAGE") or not shutil.which(
            os.environ.get("GC_KUBECTL") or "kubectl"):
        pytest.skip("GC_K8S_IMAGE and kubectl are required")
    yield {}


@pytest.fixture
def real(cluster_env: dict[str, str]) -> Provider:
    return Provider(executable("gc-session-k8s"), {**os.environ, **cluster_env,
                                                   "GC_NUDGE_DEBOUNCE_MS": "100"})


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


def test_required_conformance_suites_pass_on_a_real_cluster(real: Provider) -> None:
    exe = shutil.which("gc-provider-conformance", path=sysconfig.get_path("scripts"))
    argv = [exe] if exe else [sys.executable, "-m", "protocol.conformance"]
    res = subprocess.run([*argv, real.argv[-1], "--only", "check", "--only", "rpp",
                          "--only", "runtimetest"], env=real.env, capture_output=True, text=True,
                         timeout=3000, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 failed" in res.stdout
