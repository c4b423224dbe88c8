"""The docker backend: pods are `--network none` containers of a locally built image."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest
from fakekube_kubectls import Kubectl
from fakekube_manifests import agent_pod, apply, wait_until

from protocol.conformance.fakekube.fixtures import AGENT_IMAGE, FakeKubeEnv

pytestmark = pytest.mark.docker


def test_kubectl_round_trip_on_docker_pods(fake_kube_docker: FakeKubeEnv, kubectl: Kubectl,
                                           tmp_path: Path) -> None:
    kube, v = fake_kube_docker, kubectl.version
    ns = kube.namespace()
    name = f"dk-{v.replace('.', '')}"
    # sh as PID 1 ignores SIGTERM, as in a real container: keep the grace period short.
    apply(kube, agent_pod(name, grace=1), v)
    r = kube.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s",
                     version=v)
    assert r.returncode == 0, r.stderr
    r = kube.kubectl("-n", ns, "get", "pods", "-l", f"gc-session={name}", "-o", "json", version=v)
    assert [p["metadata"]["name"] for p in orjson.loads(r.stdout)["items"]] == [name]
    wait_until(lambda: kube.kubectl("-n", ns, "exec", name, "--", "tmux", "has-session", "-t",
                                    "main", version=v).returncode == 0)
    r = kube.kubectl("-n", ns, "exec", name, "--", "tmux", "has-session", "-t", "nope", version=v)
    assert r.returncode == 1
    r = kube.kubectl("-n", ns, "exec", name, "--", "tmux", "new-session", "-d", "-s", "w",
                     "echo pane-text; sleep 100", version=v)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: "pane-text" in kube.kubectl("-n", ns, "exec", name, "--", "tmux",
                                                   "capture-pane", "-p", "-t", "w", version=v).stdout)
    r = kube.kubectl("-n", ns, "exec", "-i", name, "--", "sh", "-c", "cat; exit 5",
                     input="via-stdin", version=v)
    assert r.returncode == 5 and r.stdout == "via-stdin"
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("payload\n")
    r = kube.kubectl("-n", ns, "cp", f"{src}/.", f"{name}:/workspace/in", version=v)
    assert r.returncode == 0, r.stderr
    r = kube.kubectl("-n", ns, "cp", f"{name}:/workspace/in", str(tmp_path / "back"), version=v)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back" / "f.txt").read_text() == "payload\n"
    r = kube.kubectl("-n", ns, "exec", name, "--", "sh", "-c", "hostname; ps -e -o comm= | wc -l",
                     version=v)
    assert r.stdout.split()[0] == name
    r = kube.kubectl("-n", ns, "delete", "pod", name, version=v)
    assert r.returncode == 0, r.stderr
    assert kube.server.pod(ns, name) is None


def test_missing_image_leaves_pod_pending_with_pull_errors(fake_kube_docker: FakeKubeEnv) -> None:
    kube = fake_kube_docker
    ns = kube.namespace()
    apply(kube, agent_pod("no-image", image="gc-test/does-not-exist:1"))

    def reason() -> str:
        pod = kube.server.pod(ns, "no-image") or {}
        cs = pod.get("status", {}).get("containerStatuses") or [{}]
        return str(cs[0].get("state", {}).get("waiting", {}).get("reason", ""))

    wait_until(lambda: reason() == "ErrImagePull", 10, "ErrImagePull")
    wait_until(lambda: reason() == "ImagePullBackOff", 10, "ImagePullBackOff")
    pod = kube.server.pod(ns, "no-image")
    assert pod is not None and pod["status"]["phase"] == "Pending"
    r = kube.kubectl("-n", ns, "get", "pod", "no-image")
    assert "ImagePullBackOff" in r.stdout
    kube.kubectl("-n", ns, "delete", "pod", "no-image")


def test_agent_image_runs_tmux_under_testcontainers(fake_kube_docker: FakeKubeEnv) -> None:
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # Ryuk would need a pull
    from testcontainers.core.container import DockerContainer

    with DockerContainer(AGENT_IMAGE).with_command("sleep infinity").with_kwargs(
            network_mode="none") as c:
        assert c.exec(["tmux", "new-session", "-d", "-s", "s"]).exit_code == 0
        assert c.exec(["tmux", "has-session", "-t", "s"]).exit_code == 0
        assert c.exec(["tmux", "has-session", "-t", "x"]).exit_code == 1
        out = c.exec(["sh", "-c", "echo aGk= | base64 -d; pgrep -x sleep >/dev/null && echo ok"])
        assert out.output == b"hiok\n"


def test_graceful_delete_of_a_docker_pod_waits_for_the_grace_period(
        fake_kube_docker: FakeKubeEnv) -> None:
    kube = fake_kube_docker
    ns = kube.namespace()
    apply(kube, agent_pod("dk-grace", command="sleep infinity", grace=2))
    kube.server.wait_pod(ns, "dk-grace", timeout=60)
    started = time.monotonic()
    r = kube.kubectl("-n", ns, "delete", "pod", "dk-grace")
    assert r.returncode == 0, r.stderr
    # sh is PID 1 in the container and ignores SIGTERM: only the SIGKILL ends it.
    assert 1.5 <= time.monotonic() - started < 15
