"""The fake API server over HTTPS (throwaway CA): the real kubectl 1.32 and 1.37, the
`kubernetes` Python client and gc-session-k8s, as against a real (TLS-only) apiserver."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from fakekube_kubectls import Kubectl
from fakekube_manifests import agent_pod, dumps, running_pod
from helpers import Provider, executable, wait_for

from protocol.conformance.fakekube.fixtures import FakeKubeEnv, find_kubectl
from protocol.conformance.fakekube.tls import make_certs

REPO = Path(__file__).resolve().parent.parent.parent


def _cluster(kubeconfig: str) -> dict[str, Any]:
    cluster: dict[str, Any] = orjson.loads(Path(kubeconfig).read_bytes())["clusters"][0]["cluster"]
    return cluster


def test_kubeconfig_points_at_https_with_the_ca_that_signed_the_server(
        fake_kube_tls: FakeKubeEnv) -> None:
    cluster = _cluster(fake_kube_tls.kubeconfig)
    assert cluster["server"] == fake_kube_tls.url == f"https://127.0.0.1:{fake_kube_tls.server.port}"
    assert fake_kube_tls.server.ca_file is not None
    pem = Path(fake_kube_tls.server.ca_file).read_bytes()
    assert base64.b64decode(cluster["certificate-authority-data"]) == pem
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    # The CA's private key is gone once the server certificate is signed.
    assert sorted(os.listdir(os.path.dirname(fake_kube_tls.server.ca_file))) == [
        "ca.crt", "server.crt", "server.key"]


def test_default_server_stays_plain_http(fake_kube: FakeKubeEnv) -> None:
    assert fake_kube.url.startswith("http://")
    assert "certificate-authority-data" not in _cluster(fake_kube.kubeconfig)


def test_get_apply_delete_over_https(fake_kube_tls: FakeKubeEnv, kubectl: Kubectl) -> None:
    v = kubectl.version
    ns = fake_kube_tls.namespace()
    name = f"tls-crud-{v.replace('.', '')}"
    r = fake_kube_tls.kubectl("apply", "-f", "-", input=dumps(agent_pod(name, command="sleep infinity")),
                              version=v)
    assert r.returncode == 0, r.stderr
    fake_kube_tls.server.wait_pod(ns, name)
    r = fake_kube_tls.kubectl("-n", ns, "get", "pods", "-l", f"gc-session={name}", "-o", "json",
                              version=v)
    assert r.returncode == 0, r.stderr
    items = orjson.loads(r.stdout)["items"]
    assert [p["metadata"]["name"] for p in items] == [name]
    assert items[0]["status"]["phase"] == "Running"
    r = fake_kube_tls.kubectl("-n", ns, "delete", "pod", name, "--grace-period=0", version=v)
    assert r.returncode == 0, r.stderr
    assert fake_kube_tls.server.pod(ns, name) is None


def test_exec_stdin_reaches_command_and_exit_code_comes_back_over_https(
        fake_kube_tls: FakeKubeEnv, kubectl: Kubectl) -> None:
    name = f"tls-stdin-{kubectl.version.replace('.', '')}"
    running_pod(fake_kube_tls, name, command="sleep infinity")
    data = os.urandom(1_500_000).hex()  # 3 MB through the terminator towards the pod
    r = fake_kube_tls.kubectl("-n", "gc", "exec", "-i", name, "--", "sh", "-c",
                              "sha256sum | cut -d' ' -f1; echo oops >&2; exit 7",
                              input=data, version=kubectl.version, timeout=120)
    assert r.returncode == 7, r.stderr
    assert r.stdout.strip() == hashlib.sha256(data.encode()).hexdigest()
    assert "oops" in r.stderr
    assert "command terminated with exit code 7" in r.stderr
    fake_kube_tls.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


def test_exec_large_output_arrives_intact_over_https(
        fake_kube_tls: FakeKubeEnv, kubectl: Kubectl) -> None:
    name = f"tls-big-{kubectl.version.replace('.', '')}"
    running_pod(fake_kube_tls, name, command="sleep infinity")
    r = fake_kube_tls.kubectl("-n", "gc", "exec", name, "--", "seq", "1", "400000",
                              version=kubectl.version, timeout=120)
    assert r.returncode == 0, r.stderr
    expected = "".join(f"{i}\n" for i in range(1, 400_001))
    assert len(expected) > 2_000_000
    assert r.stdout == expected
    fake_kube_tls.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


def test_parallel_execs_share_the_terminator_without_mixing_streams(
        fake_kube_tls: FakeKubeEnv) -> None:
    name = "tls-parallel"
    running_pod(fake_kube_tls, name, command="sleep infinity")

    def one(i: int) -> tuple[int, str, str]:
        v = "1.37" if i % 2 and find_kubectl("1.37") else "1.32"
        payload = f"{i}:" + "y" * (50_000 + i * 1000)
        r = fake_kube_tls.kubectl("-n", "gc", "exec", "-i", name, "--", "sh", "-c",
                                  f"cat; seq 1 {20000 + i}; exit {i}", input=payload,
                                  version=v, timeout=120)
        return r.returncode, r.stdout, payload + "".join(f"{n}\n" for n in range(1, 20001 + i))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(1, 9)))
    for i, (rc, out, expected) in enumerate(results, start=1):
        assert rc == i
        assert out == expected
    fake_kube_tls.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


def test_cp_copies_into_the_pod_and_back_over_https(
        fake_kube_tls: FakeKubeEnv, kubectl: Kubectl, tmp_path: Path) -> None:
    name = f"tls-cp-{kubectl.version.replace('.', '')}"
    running_pod(fake_kube_tls, name, command="sleep infinity")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    blob = os.urandom(600_000)
    (src / "sub" / "blob.bin").write_bytes(blob)
    v = kubectl.version
    r = fake_kube_tls.kubectl("-n", "gc", "cp", f"{src}/.", f"{name}:/workspace/dst", version=v)
    assert r.returncode == 0, r.stderr
    r = fake_kube_tls.kubectl("-n", "gc", "exec", name, "--", "cat", "/workspace/dst/a.txt",
                              version=v)
    assert r.stdout == "alpha\n"
    back = tmp_path / "back"
    r = fake_kube_tls.kubectl("-n", "gc", "cp", f"{name}:/workspace/dst", str(back), version=v)
    assert r.returncode == 0, r.stderr
    assert (back / "a.txt").read_text() == "alpha\n"
    assert (back / "sub" / "blob.bin").read_bytes() == blob
    fake_kube_tls.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


def kubeconfig_with_another_ca(env: FakeKubeEnv, tmp_path: Path) -> Path:
    """The server's kubeconfig, but trusting a CA that did not sign its certificate."""
    other_ca, _, _ = make_certs(str(tmp_path / "other"))
    cfg = orjson.loads(Path(env.kubeconfig).read_bytes())
    cfg["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
        Path(other_ca).read_bytes()).decode()
    wrong = tmp_path / "wrong-ca.kubeconfig"
    wrong.write_bytes(orjson.dumps(cfg))
    return wrong


def test_kubeconfig_with_another_ca_is_refused_with_an_x509_error(
        fake_kube_tls: FakeKubeEnv, kubectl: Kubectl, tmp_path: Path) -> None:
    wrong = kubeconfig_with_another_ca(fake_kube_tls, tmp_path)
    binary = find_kubectl(kubectl.version)
    assert binary is not None
    r = subprocess.run([binary, "--kubeconfig", str(wrong), "get", "namespaces"],
                       env=fake_kube_tls.env, capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode != 0
    assert "x509" in r.stderr, r.stderr
    # The server keeps serving clients that trust the right CA.
    assert fake_kube_tls.kubectl("get", "namespaces", version=kubectl.version).returncode == 0


client = pytest.importorskip("kubernetes.client")
config = pytest.importorskip("kubernetes.config")
stream = pytest.importorskip("kubernetes.stream").stream


def _api(kubeconfig: str) -> Any:
    return config.new_client_from_config(config_file=kubeconfig)


def test_python_client_crud_and_stream_exec_trust_the_generated_ca(
        fake_kube_tls: FakeKubeEnv) -> None:
    ns = fake_kube_tls.namespace()
    api = _api(fake_kube_tls.kubeconfig)
    exec_api = _api(fake_kube_tls.kubeconfig)  # stream() swaps its client's request function
    try:
        assert api.configuration.host.startswith("https://")
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(ns, agent_pod("tls-py", command="sleep infinity"))
        fake_kube_tls.server.wait_pod(ns, "tls-py")
        listed = core.list_namespaced_pod(ns, label_selector="gc-session=tls-py")
        assert [p.metadata.name for p in listed.items] == ["tls-py"]
        resp = stream(client.CoreV1Api(exec_api).connect_get_namespaced_pod_exec, "tls-py", ns,
                      command=["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' z; echo; exit 3"],
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        resp.run_forever(timeout=60)
        out = resp.read_stdout() if resp.peek_stdout() else ""
        assert resp.returncode == 3
        assert out == "z" * 300_000 + "\n"
        resp.close()
        core.delete_namespaced_pod("tls-py", ns, grace_period_seconds=0)
        assert fake_kube_tls.server.pod(ns, "tls-py") is None
    finally:
        api.close()
        exec_api.close()


def test_python_client_refuses_a_server_outside_its_ca(fake_kube_tls: FakeKubeEnv,
                                                      tmp_path: Path) -> None:
    wrong = kubeconfig_with_another_ca(fake_kube_tls, tmp_path)
    api = _api(str(wrong))
    try:
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            client.CoreV1Api(api).list_namespace(_request_timeout=10)
    finally:
        api.close()


class SessionProvider(Provider):
    """gc-session-k8s bound to the HTTPS fake; remembers what it started for cleanup."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        super().__init__(argv, env)
        self.started: list[str] = []


@pytest.fixture
def k8s_tls(fake_kube_tls: FakeKubeEnv, tmp_path: Path) -> Iterator[SessionProvider]:
    kubectl = find_kubectl("1.32")
    if kubectl is None:
        pytest.skip("kubectl 1.32 not installed")
    fake_kube_tls.namespace("gc")
    env = {k: v for k, v in fake_kube_tls.env.items()
           if not k.startswith("GC_K8S_") and k not in ("GC_SESSION", "TMUX")}
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    env.update(GC_KUBECTL=kubectl, GC_K8S_IMAGE="gc-test/agent:latest", GC_K8S_NAMESPACE="gc",
               GC_EXEC_STATE_DIR=str(state), GC_NUDGE_DEBOUNCE_MS="100",
               GC_K8S_TRANSPORT="kubectl")  # kubectl over TLS is the point here
    provider = SessionProvider(executable("gc-session-k8s"), env)
    yield provider
    for name in provider.started:
        provider.run("stop", name)
    for pod in fake_kube_tls.server.store.list("pods", "gc"):
        if (pod["metadata"].get("labels") or {}).get("app") == "gc-agent":
            fake_kube_tls.kubectl("-n", "gc", "delete", "pod", pod["metadata"]["name"],
                                  "--grace-period=0", "--ignore-not-found", "--wait=false")


def test_session_provider_start_nudge_peek_stop_over_https(k8s_tls: SessionProvider) -> None:
    name = f"tls-{uuid.uuid4().hex[:8]}"
    k8s_tls.started.append(name)
    res = k8s_tls.run("start", name, stdin=orjson.dumps({"command": "cat"}), timeout=90)
    assert res.rc == 0, res.err
    assert k8s_tls.ok("is-running", name) == "true"
    k8s_tls.ok("nudge", name, stdin="hello over tls")
    assert wait_for(lambda: k8s_tls.ok("peek", name, "50").count("hello over tls") >= 2, 20)
    k8s_tls.ok("stop", name)
    assert k8s_tls.ok("is-running", name) == "false"


def test_cli_tls_flag_serves_https_and_cleans_up(tmp_path: Path) -> None:
    kubectl = find_kubectl("1.32")
    if kubectl is None:
        pytest.skip("kubectl 1.32 not installed")
    kubeconfig = tmp_path / "kc"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env["NO_PROXY"] = "127.0.0.1"
    proc = subprocess.Popen([sys.executable, "-m", "protocol.conformance.fakekube", "--tls", "--kubeconfig",
                             str(kubeconfig), "--create-namespace", "gc"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:")
        assert proc.stdout.readline().strip() == str(kubeconfig)
        root = _cluster(str(kubeconfig))
        assert root["server"] == url
        r = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "get", "ns", "gc", "-o",
                            "name"], env={**env, "HOME": str(tmp_path)}, capture_output=True,
                           text=True, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "namespace/gc"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
