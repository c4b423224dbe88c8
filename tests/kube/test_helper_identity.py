"""The helper keeps nothing that could serve one caller for another: what it keeps is keyed
by the whole identity of a request (the kubeconfig's files and their content, the files
they name, the caller's working directory and, for an exec plugin, its whole environment).

Every test drives the HTTPS fake through the helper and reads the Authorization header the
server saw (`seen_auth`): the token says which kubeconfig, and which plugin run, served.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from transport_support import POD, SETTINGS, ca_b64, transports, write_kubeconfig

from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from protocol.proc import Result
from providers.kube.pod_exec import exec_in_pod
from providers.kube.settings import KubeSettings
from providers.kube.transport import helper_client

pytest_plugins = ["transport_fixtures"]


def run(settings: KubeSettings = SETTINGS) -> Result:
    return exec_in_pod(POD, ["true"], container="agent", settings=settings, retry=True)


#: The tokens this module's kubeconfigs and plugins carry: the fake takes them besides its own.
IDENTITY_TOKENS = tuple(f"tok-{who}" for who in (
    "alice", "bob", "carol", "ca", "city-a", "city-b", "first", "gone", "one", "other", "trust", "two"))


@pytest.fixture
def helper_up(helper_env: FakeKubeEnv) -> Iterator[FakeKubeEnv]:
    """The helper running (started from the test's own directory) before the test acts."""
    for token in IDENTITY_TOKENS:
        helper_env.server.accept_token(token)
    helper_client.launch()
    deadline = time.monotonic() + 30
    while helper_client.control("status") is None:
        if time.monotonic() > deadline:
            log = Path(os.environ["GC_K8S_RUNTIME_DIR"]) / "helper.log"
            raise AssertionError(f"the helper did not start; its log: {log.read_text() if log.exists() else 'none'}")
        time.sleep(0.05)
    yield helper_env


def cluster(kube: FakeKubeEnv) -> dict[str, str]:
    return {"server": kube.url, "certificate-authority-data": ca_b64(kube)}


def token_config(kube: FakeKubeEnv, path: Path, token: str) -> str:
    return write_kubeconfig(path, cluster=cluster(kube), user={"token": token})


def profile_plugin(directory: Path) -> tuple[str, Path]:
    """A plugin whose token names $PROFILE and the directory it ran in; each run is a line
    ``<profile> <cwd>`` in the returned file."""
    calls = directory / "plugin.calls"
    script = directory / "profile-plugin"
    status = {"token": "tok-$PROFILE", "expirationTimestamp": "2999-01-01T00:00:00Z"}
    body = orjson.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                         "kind": "ExecCredential", "status": status}).decode()
    script.write_text(f'#!/bin/sh\necho "$PROFILE $(pwd)" >> \'{calls}\'\ncat <<JSON\n{body}\nJSON\n')
    script.chmod(0o755)
    return str(script), calls


def test_a_plugin_token_never_serves_a_caller_with_another_environment(
        helper_up: FakeKubeEnv, seen_auth: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    command, calls = profile_plugin(tmp_path)
    monkeypatch.setenv("KUBECONFIG", write_kubeconfig(
        tmp_path / "cfg", cluster=cluster(helper_up),
        user={"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}}))
    monkeypatch.setenv("PROFILE", "alice")
    run()
    run()
    monkeypatch.setenv("PROFILE", "bob")
    run()
    run()
    monkeypatch.setenv("PROFILE", "alice")
    run()
    assert seen_auth[-5:] == ["Bearer tok-alice"] * 2 + ["Bearer tok-bob"] * 2 + ["Bearer tok-alice"]
    assert set(transports(tmp_path)) == {"helper"}
    profiles = [line.split()[0] for line in calls.read_text().splitlines()]
    assert profiles.count("bob") == 1  # bob's plugin ran once, with bob's environment
    assert profiles.count("alice") <= 2  # alice's token was kept for her, not rerun per call


def test_a_plugin_runs_in_the_working_directory_of_its_caller(
        helper_up: FakeKubeEnv, seen_auth: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    command, calls = profile_plugin(tmp_path)
    monkeypatch.setenv("KUBECONFIG", write_kubeconfig(
        tmp_path / "cfg", cluster=cluster(helper_up),
        user={"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}}))
    monkeypatch.setenv("PROFILE", "carol")
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        run()
    ran_in = {line.split()[1] for line in calls.read_text().splitlines()}
    assert {str(tmp_path / "one"), str(tmp_path / "two")} <= ran_in
    assert set(transports(tmp_path)) == {"helper"}


def test_a_relative_kubeconfig_means_the_callers_working_directory(
        helper_up: FakeKubeEnv, seen_auth: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for city in ("city-a", "city-b"):
        (tmp_path / city).mkdir()
        token_config(helper_up, tmp_path / city / "kc", f"tok-{city}")
    monkeypatch.setenv("KUBECONFIG", "kc")
    monkeypatch.setenv("GC_K8S_AUDIT_LOG", "audit.jsonl")
    for city in ("city-a", "city-b", "city-a"):
        monkeypatch.chdir(tmp_path / city)
        run()
    assert seen_auth[-3:] == ["Bearer tok-city-a", "Bearer tok-city-b", "Bearer tok-city-a"]
    assert transports(tmp_path / "city-b") == ["helper"]  # its audit line where it said


def test_a_kubeconfig_rewritten_in_place_is_read_again(
        helper_up: FakeKubeEnv, seen_auth: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cfg"
    monkeypatch.setenv("KUBECONFIG", token_config(helper_up, path, "tok-first"))
    run()
    before = path.stat()
    with open(path, "r+b") as f:  # same inode, same size, same mtime: only the bytes differ
        data = f.read().replace(b"tok-first", b"tok-other")
        f.seek(0)
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)
    run()
    assert seen_auth[-2:] == ["Bearer tok-first", "Bearer tok-other"]
    assert set(transports(tmp_path)) == {"helper"}


def test_a_symlinked_kubeconfig_pointed_elsewhere_between_calls_is_followed(
        helper_up: FakeKubeEnv, seen_auth: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token_config(helper_up, tmp_path / "one", "tok-one")
    token_config(helper_up, tmp_path / "two", "tok-two")
    link = tmp_path / "cfg"
    link.symlink_to(tmp_path / "one")
    monkeypatch.setenv("KUBECONFIG", str(link))
    run()
    link.unlink()
    link.symlink_to(tmp_path / "two")
    run()
    assert seen_auth[-2:] == ["Bearer tok-one", "Bearer tok-two"]


def test_a_changed_certificate_authority_file_makes_a_new_tls_context(
        helper_up: FakeKubeEnv, seen_auth: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ca = tmp_path / "ca.crt"
    assert helper_up.server.ca_file
    ca.write_bytes(Path(helper_up.server.ca_file).read_bytes())
    monkeypatch.setenv("KUBECONFIG", write_kubeconfig(
        tmp_path / "cfg", cluster={"server": helper_up.url, "certificate-authority": str(ca)},
        user={"token": "tok-ca"}))
    run()
    ca.write_text("not a certificate\n")  # the server is no longer trusted by this caller
    with pytest.raises(Exception):  # noqa: B017 - whatever the class, it must not be served
        run()
    assert seen_auth.count("Bearer tok-ca") == 1


def test_a_relative_kubectl_means_the_callers_working_directory(
        helper_up: FakeKubeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "kc")
    for city in ("city-a", "city-b"):
        where = tmp_path / city
        (where / "bin").mkdir(parents=True)
        token_config(helper_up, where / "kc", f"tok-{city}")
        wrapper = where / "bin" / "kubectl"
        wrapper.write_text(f"#!/bin/sh\necho {city} >> '{tmp_path}/kubectl.runs'\n"
                           'exec /usr/bin/kubectl "$@"\n')
        wrapper.chmod(0o755)
    settings = KubeSettings(namespace=SETTINGS.namespace, kubectl="bin/kubectl",
                            request_timeout=10)
    for city in ("city-a", "city-b"):
        monkeypatch.chdir(tmp_path / city)
        run(settings)
    runs = (tmp_path / "kubectl.runs").read_text().split()
    assert "city-b" in runs  # city B's kubeconfig was resolved by city B's kubectl
    assert set(runs) <= {"city-a", "city-b"}
    assert set(transports(tmp_path)) == {"helper"}  # and by the helper, not handed back


def test_a_callers_trust_store_is_its_own(helper_up: FakeKubeEnv, seen_auth: list[str],
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transport_support import client_cert

    other_ca, _key = client_cert(tmp_path, "other-ca")
    monkeypatch.setenv("KUBECONFIG", write_kubeconfig(
        tmp_path / "cfg", cluster={"server": helper_up.url}, user={"token": "tok-trust"}))
    assert helper_up.server.ca_file
    monkeypatch.setenv("SSL_CERT_FILE", helper_up.server.ca_file)
    run()
    assert seen_auth[-1:] == ["Bearer tok-trust"]
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))  # this caller does not trust the server
    with pytest.raises(Exception):  # noqa: B017 - whatever the class, it must not be served
        run()
    assert seen_auth.count("Bearer tok-trust") == 1
    assert "helper" in transports(tmp_path)


def test_a_caller_whose_working_directory_is_gone_goes_direct(
        helper_up: FakeKubeEnv, seen_auth: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from transport_support import helper_misses

    monkeypatch.setenv("KUBECONFIG", token_config(helper_up, tmp_path / "cfg", "tok-gone"))
    (tmp_path / "gone").mkdir()
    monkeypatch.chdir(tmp_path / "gone")
    (tmp_path / "gone").rmdir()
    assert run().rc == 0
    assert seen_auth[-1:] == ["Bearer tok-gone"]
    assert transports(tmp_path) == ["direct"]
    assert helper_misses(tmp_path) == ["the caller's working directory is unknown"]
