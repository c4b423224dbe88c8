"""The offline API server answers only whoever holds its kubeconfig's token.

The main test runs its client as a second, unprivileged local user (made with useradd for
the module, removed after): with the server running as this (root) user, the stranger's
requests without the token, or with a wrong one, get the real API server's 401 and run
nothing (no pod made, no exec command run), over HTTP and HTTPS, REST, control endpoints
and WebSocket exec alike; with the token the same requests work; and the kubeconfig
(0600, ours) cannot be read.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fakekube_manifests import agent_pod, running_pod
from hypothesis import assume, example, given
from hypothesis import strategies as st
from local_users import Stranger, as_stranger, throwaway_user

from protocol.conformance.fakekube import auth
from protocol.conformance.fakekube.fixtures import FakeKubeEnv

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.fixture(scope="module")
def stranger() -> Iterator[Stranger]:
    with throwaway_user() as who:
        yield who


def exec_path(ns: str, pod: str, argv: list[str]) -> str:
    cmd = "".join(f"&command={quote(a)}" for a in argv)
    return f"/api/v1/namespaces/{ns}/pods/{pod}/exec?container=agent&stdout=true&stderr=true{cmd}"


def in_pod(kube: FakeKubeEnv, ns: str, pod: str, path: str) -> bool:
    """Whether `path` exists inside the pod (asked with the kubeconfig, through kubectl)."""
    r = kube.kubectl("-n", ns, "exec", pod, "-c", "agent", "--", "sh", "-c",
                     f"test -e {path} && echo yes || echo no")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() == "yes"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_second_local_user_without_the_token_gets_401_and_runs_nothing(
        stranger: Stranger, scheme: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    kube: FakeKubeEnv = request.getfixturevalue("fake_kube" if scheme == "http" else "fake_kube_tls")
    server = kube.server
    tag = uuid.uuid4().hex[:8]
    ns = f"auth-{tag}"
    target = f"target-{tag}"
    running_pod(kube, target, ns, command="sleep infinity")
    token = server.token
    made = agent_pod(f"stranger-{tag}", ns)
    # Everywhere the server listens: with --tls also its plain listener behind the terminator.
    urls = [server.url] + ([f"http://127.0.0.1:{server.plain_port}"] if server.tls else [])
    attempts: list[dict[str, Any]] = []
    for i, url in enumerate(urls):
        for who, tok in (("none", None), ("wrong", "not-the-token"), ("empty", "")):
            attempts += [
                {"name": f"{i}-create-pod-{who}", "url": url, "method": "POST",
                 "path": f"/api/v1/namespaces/{ns}/pods", "body": made, "token": tok},
                {"name": f"{i}-exec-{who}", "url": url, "websocket": True, "token": tok,
                 "path": exec_path(ns, target, ["touch", f"/tmp/stranger-{who}"])},
                {"name": f"{i}-control-{who}", "url": url, "method": "POST", "token": tok,
                 "path": "/_fake/faults", "body": {"kind": "deny", "verb": "*", "resource": "*"}},
                {"name": f"{i}-version-{who}", "url": url, "method": "GET", "path": "/version",
                 "token": tok},
            ]
        attempts.append({"name": f"{i}-healthz-none", "url": url, "method": "GET",
                         "path": "/healthz"})
    # Last, the same stranger holding the token: it works.
    attempts += [
        {"name": "list-token", "url": server.url, "method": "GET",
         "path": f"/api/v1/namespaces/{ns}/pods", "token": token},
        {"name": "exec-token", "url": server.url, "websocket": True, "token": token,
         "path": exec_path(ns, target, ["touch", "/tmp/token-holder"])},
    ]
    # A kubeconfig where the stranger can reach it: only its mode keeps it private.
    public = tmp_path / "public"
    public.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    kubeconfig = server.write_kubeconfig(str(public / "kubeconfig"))

    out = as_stranger(stranger, attempts, kubeconfig)["attempts"]
    refused = {name: got for name, got in out.items()
               if not name.endswith(("-token", "healthz-none"))}
    assert refused and all(got == {"status": 401, "body": UNAUTHORIZED} for got in refused.values()), refused
    assert server.pod(ns, made["metadata"]["name"]) is None
    assert server.faults.list() == []
    for who in ("none", "wrong", "empty"):
        assert not in_pod(kube, ns, target, f"/tmp/stranger-{who}")
    assert all(out[f"{i}-healthz-none"] == {"status": 200, "body": "ok"} for i in range(len(urls)))
    assert out["list-token"]["status"] == 200
    assert [p["metadata"]["name"] for p in out["list-token"]["body"]["items"]] == [target]
    assert out["exec-token"]["status"] == 101
    assert in_pod(kube, ns, target, "/tmp/token-holder")


def test_the_kubeconfig_is_ours_alone(stranger: Stranger, fake_kube: FakeKubeEnv,
                                      tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    path = fake_kube.server.write_kubeconfig(str(public / "kubeconfig"))
    for each in (path, fake_kube.kubeconfig):
        st_ = os.stat(each)
        assert (stat.S_IMODE(st_.st_mode), st_.st_uid) == (0o600, os.getuid())
    assert fake_kube.server.token in Path(path).read_text()
    assert as_stranger(stranger, [], path)["kubeconfig"] == "permission denied"


def test_a_kubeconfig_is_never_written_through_a_planted_symlink(fake_kube: FakeKubeEnv,
                                                                tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    link = tmp_path / "kubeconfig"
    link.symlink_to(victim)
    fake_kube.server.write_kubeconfig(str(link))
    assert victim.read_text() == "untouched"
    assert not link.is_symlink() and fake_kube.server.token in link.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeconfig", "victim"]


def test_each_server_has_its_own_random_token(fake_kube: FakeKubeEnv,
                                              fake_kube_tls: FakeKubeEnv) -> None:
    assert fake_kube.server.token != fake_kube_tls.server.token
    assert len(fake_kube.server.token) >= 43  # 32 random bytes


TOKENS = ("the-token", "another")


@given(header=st.none() | st.text(max_size=80), path=st.text(max_size=80))
@example(header=None, path="healthz")
@example(header="Bearer x", path="livez")
@example(header="Basic dGhlLXRva2Vu", path="api/v1/pods")
@example(header="bearer", path="")
def test_without_a_token_only_the_health_paths_answer_and_only_when_nothing_is_sent(
        header: str | None, path: str) -> None:
    assume(not any(t in (header or "") + path for t in TOKENS))
    target = "/" + path
    health = header is None and target.partition("?")[0].rstrip("/") in auth.OPEN_PATHS
    assert auth.check(header, target, TOKENS) == (target if health else None)


@given(token=st.sampled_from(TOKENS), rest=st.text(alphabet="abcz/?=&", max_size=30))
def test_the_token_as_the_first_path_segment_is_taken_off(token: str, rest: str) -> None:
    assert auth.check(None, f"/{token}/api{rest}", TOKENS) == f"/api{rest}"
    assert auth.check(f"Bearer {token}", f"/{token}/api{rest}", TOKENS) == f"/api{rest}"
    assert auth.check("Bearer wrong", f"/{token}/api{rest}", TOKENS) is None
