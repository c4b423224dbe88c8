"""The direct transport: each auth mode, each fallback reason, and the kubectl door's semantics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from transport_support import (
    POD,
    SETTINGS,
    audit_lines,
    ca_b64,
    client_cert,
    fallbacks,
    plugin,
    runs,
    transports,
    use,
    write_kubeconfig,
)

from protocol.conformance.fakekube import exec_stream
from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from protocol.proc import Result
from providers.kube.errors import KubeError, KubeForbidden, KubeUnavailable, PodGone
from providers.kube.pod_exec import exec_in_pod
from providers.kube.transport import credentials
from providers.kube.transport.kubeconfig import proxy_applies

pytest_plugins = ["transport_fixtures"]


def run(argv: list[str], *, stdin: bytes | None = None, container: str = "agent",
        pod: str = POD) -> Result:
    return exec_in_pod(pod, argv, container=container, settings=SETTINGS, stdin=stdin)


# -- same semantics as the kubectl door -------------------------------------------------------

class Case(NamedTuple):
    name: str
    argv: list[str]
    stdin: bytes | None = None
    pod: str = POD
    container: str = "agent"
    setup: Callable[[FakeKubeEnv], object] | None = None


CASES = [
    Case("exit 0", ["true"]),
    Case("exit code, stdout and stderr", ["sh", "-c", "echo out; echo err >&2; exit 7"]),
    Case("stdin to EOF", ["sh", "-c", "cat; echo done"], stdin=b"line1\nline2"),
    Case("empty stdin", ["cat"], stdin=b""),
    Case("argv never a shell string", ["printf", "%s|", "a b", "$(x)", "'q'", "x;"]),
    Case("missing pod", ["true"], pod="no-such-pod"),
    Case("missing container", ["true"], container="nope"),
    Case("forbidden", ["true"], setup=lambda k: k.server.deny("create", "pods/exec")),
]


def outcome(case: Case) -> tuple[object, ...]:
    try:
        r = run(case.argv, stdin=case.stdin, container=case.container, pod=case.pod)
    except KubeError as error:
        return (type(error).__name__,)
    return (r.rc, r.out, r.err)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_direct_gives_what_the_kubectl_door_gives(direct_env: FakeKubeEnv, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  case: Case) -> None:
    results = []
    for transport in ("kubectl", "direct"):
        monkeypatch.setenv("GC_K8S_TRANSPORT", transport)
        direct_env.server.faults.clear()
        if case.setup:
            case.setup(direct_env)
        results.append(outcome(case))
    assert results[0] == results[1]
    assert "direct" in transports(tmp_path) and not fallbacks(tmp_path)


def test_a_refused_upgrade_is_retried_the_command_never_started(direct_env: FakeKubeEnv,
                                                                tmp_path: Path) -> None:
    direct_env.server.refuse_exec(500, times=1)
    result = exec_in_pod(POD, ["echo", "x"], container="agent", settings=SETTINGS, retry=False)
    assert result.out == b"x\n"
    assert [line["exit"] for line in audit_lines(tmp_path)] == [-1, 0]


def test_forbidden_names_the_verb_and_resource(direct_env: FakeKubeEnv) -> None:
    direct_env.server.deny("create", "pods/exec")
    with pytest.raises(KubeForbidden) as caught:
        run(["true"])
    assert (caught.value.verb, caught.value.resource) == ("create", "pods/exec")


def test_a_missing_pod_is_pod_gone(direct_env: FakeKubeEnv) -> None:
    with pytest.raises(PodGone, match="no-such"):
        run(["true"], pod="no-such")


def test_each_attempt_is_one_audit_line_with_its_transport(direct_env: FakeKubeEnv,
                                                           tmp_path: Path) -> None:
    run(["sh", "-c", "exit 3"])
    (line,) = audit_lines(tmp_path)
    assert (line["transport"], line["exit"], line["pod"]) == ("direct", 3, POD)
    assert line["argv"][-3:] == ["sh", "-c", "exit 3"]


def test_no_kubectl_process_after_the_kubeconfig_is_cached(direct_env: FakeKubeEnv,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "kubectl-calls"
    wrapper = tmp_path / "kubectl"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec /usr/bin/kubectl "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(SETTINGS, "kubectl", str(wrapper))
    run(["true"])  # resolves and caches the kubeconfig through kubectl
    assert calls.read_text().startswith("config view --raw --minify -o json")
    from providers.kube.transport import kubeconfig

    kubeconfig._memo.clear()  # as a new process: only the 0600 cache file remains
    for _ in range(3):
        assert run(["echo", "ok"]).out == b"ok\n"
    assert len(calls.read_text().splitlines()) == 1
    cache = list((tmp_path / "run").iterdir())
    assert cache and all(p.stat().st_mode & 0o777 == 0o600 for p in cache)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o700


def test_a_changed_kubeconfig_is_resolved_again(direct_env: FakeKubeEnv, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    cfg = tmp_path / "config"
    use(monkeypatch, write_kubeconfig(cfg, cluster=cluster, user={"token": "one"}))
    run(["true"])
    write_kubeconfig(cfg, cluster={**cluster, "server": "https://127.0.0.1:1"},
                     user={"token": "one-but-longer"})
    with pytest.raises(KubeUnavailable, match="connect"):
        exec_in_pod(POD, ["true"], container="agent", settings=SETTINGS, timeout=5)


# -- auth modes --------------------------------------------------------------------------------

def test_token_is_sent_as_bearer(direct_env: FakeKubeEnv, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch, seen_auth: list[str]) -> None:
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"token": "t0k"}))
    assert run(["echo", "hi"]).out == b"hi\n"
    assert seen_auth == ["Bearer t0k"]


def test_token_file_is_read_at_each_call(direct_env: FakeKubeEnv, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         seen_auth: list[str]) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster,
                                      user={"tokenFile": str(token)}))
    run(["true"])
    token.write_text("rotated\n")
    run(["true"])
    assert seen_auth == ["Bearer first", "Bearer rotated"]


def test_ca_file_and_tls_server_name(direct_env: FakeKubeEnv, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert direct_env.server.ca_file
    cluster = {"server": direct_env.url, "certificate-authority": direct_env.server.ca_file,
               "tls-server-name": "localhost"}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"token": "x"}))
    assert run(["echo", "ok"]).out == b"ok\n"
    assert transports(tmp_path) == ["direct"]


def test_a_wrong_tls_server_name_is_refused(direct_env: FakeKubeEnv, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env),
               "tls-server-name": "not-the-server.example"}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"token": "x"}))
    with pytest.raises(KubeError, match="certificate"):
        run(["true"])


def test_a_wrong_ca_is_refused_and_not_retried(direct_env: FakeKubeEnv, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    other_ca, _key = client_cert(tmp_path, "other-ca")
    cluster = {"server": direct_env.url, "certificate-authority": str(other_ca)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"token": "x"}))
    with pytest.raises(KubeError, match="certificate verify failed") as caught:
        run(["true"])
    assert not isinstance(caught.value, KubeUnavailable)
    assert transports(tmp_path) == ["direct"]  # one attempt, no fallback to a laxer door


def test_insecure_skip_tls_verify(direct_env: FakeKubeEnv, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = {"server": direct_env.url, "insecure-skip-tls-verify": True}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"token": "x"}))
    assert run(["echo", "ok"]).out == b"ok\n"


@pytest.mark.parametrize("inline", [True, False], ids=["inline-data", "files"])
def test_client_certificate_and_key(direct_env: FakeKubeEnv, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch, inline: bool) -> None:
    crt, key = client_cert(tmp_path)
    import base64

    user = ({"client-certificate-data": base64.b64encode(crt.read_bytes()).decode(),
             "client-key-data": base64.b64encode(key.read_bytes()).decode()} if inline
            else {"client-certificate": str(crt), "client-key": str(key)})
    user["token"] = "x"  # the fake asks for no client certificate: it knows callers by token
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user=user))
    assert run(["echo", "ok"]).out == b"ok\n"
    assert transports(tmp_path) == ["direct"]
    # The key never lands on disk in clear: not in the runtime dir's cache.
    secret = key.read_bytes().split(b"\n")[1]
    assert all(secret not in p.read_bytes() for p in (tmp_path / "run").iterdir())


def test_a_key_that_does_not_match_the_certificate_falls_back(direct_env: FakeKubeEnv,
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    crt, _key = client_cert(tmp_path, "a")
    _crt, other_key = client_cert(tmp_path, "b")
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster,
                                      user={"client-certificate": str(crt),
                                            "client-key": str(other_key), "token": "x"}))
    run(["true"])  # kubectl's door (the fake asks for no client certificate)
    assert fallbacks(tmp_path)[0].startswith("client certificate/key unusable")


def test_in_cluster_service_account(direct_env: FakeKubeEnv, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    seen_auth: list[str]) -> None:
    assert direct_env.server.ca_file
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    (sa / "ca.crt").write_bytes(Path(direct_env.server.ca_file).read_bytes())
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(direct_env.server.port))
    monkeypatch.setenv("GC_K8S_SERVICEACCOUNT_DIR", str(sa))
    assert run(["echo", "ok"]).out == b"ok\n"
    assert seen_auth == ["Bearer sa-token"]


def test_exec_plugin_token(direct_env: FakeKubeEnv, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, seen_auth: list[str]) -> None:
    command, count = plugin(tmp_path, status={"token": "from-plugin"})
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": command,
        "interactiveMode": "Never"}}))
    warm_up(count)
    assert run(["echo", "ok"]).out == b"ok\n"
    assert seen_auth[-1] == "Bearer from-plugin" and runs(count) == 1


def warm_up(count: Path) -> None:
    """Resolve the kubeconfig (the kubectl dispatcher may run the plugin itself), then
    start counting with no token in memory."""
    run(["true"])
    credentials._tokens.clear()
    count.write_text("")


class Expiry(NamedTuple):
    name: str
    stamp: str
    runs_for_three_ops: int


EXPIRIES = [Expiry("expired token: re-run each time", "2000-01-01T00:00:00Z", 3),
            Expiry("valid token: cached", "2999-01-01T00:00:00Z", 1),
            Expiry("no expiry: cached until a 401", "", 1)]


@pytest.mark.parametrize("case", EXPIRIES, ids=[e.name for e in EXPIRIES])
def test_plugin_token_is_cached_until_it_expires(direct_env: FakeKubeEnv, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 case: Expiry) -> None:
    status = {"token": "tk", **({"expirationTimestamp": case.stamp} if case.stamp else {})}
    command, count = plugin(tmp_path, status=status)
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": command}}))
    warm_up(count)
    for _ in range(3):
        run(["true"])
    assert runs(count) == case.runs_for_three_ops


def test_a_401_runs_the_plugin_once_more(direct_env: FakeKubeEnv, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    command, count = plugin(tmp_path, status={"token": "tk"})
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": command}}))
    warm_up(count)
    run(["true"])
    direct_env.server.fail("GET", ".*/exec", status=401, times=1)
    assert run(["echo", "again"]).out == b"again\n"
    assert runs(count) == 2


# -- fallbacks ---------------------------------------------------------------------------------

class FallbackCase(NamedTuple):
    name: str
    user: dict[str, object]
    cluster_extra: dict[str, object]
    reason: str


FALLBACKS = [
    FallbackCase("auth-provider", {"auth-provider": {"name": "oidc", "config": {}}}, {},
                 "auth-provider credentials"),
    FallbackCase("impersonation", {"token": "x", "as": "someone"}, {}, "impersonation"),
    FallbackCase("proxy-url", {"token": "x"}, {"proxy-url": "http://127.0.0.1:9"},
                 "proxy-url in the kubeconfig"),
    FallbackCase("interactive plugin", {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                 "command": "/bin/false",
                                                 "interactiveMode": "Always"}}, {},
                 "interactive exec credential plugin"),
]


@pytest.mark.parametrize("case", FALLBACKS, ids=[c.name for c in FALLBACKS])
def test_what_direct_cannot_do_goes_to_kubectl_and_says_why(direct_env: FakeKubeEnv,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           case: FallbackCase) -> None:
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env),
               **case.cluster_extra}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user=case.user))
    try:
        run(["true"])
    except KubeError:
        pass  # kubectl's own verdict on this kubeconfig; what matters is who ran it
    assert fallbacks(tmp_path) == [case.reason]
    assert transports(tmp_path)[0] == "kubectl"


def test_a_plugin_returning_a_certificate_goes_to_kubectl(direct_env: FakeKubeEnv,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    command, _count = plugin(tmp_path, status={"clientCertificateData": "x", "clientKeyData": "y"})
    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": command}}))
    try:
        run(["true"])
    except KubeError:
        pass
    assert fallbacks(tmp_path) == ["exec credential plugin returns a client certificate"]


def test_a_proxy_that_applies_goes_to_kubectl(direct_env: FakeKubeEnv, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback is never proxied (Go's rule), so name the server by a non-loopback alias.
    cluster = {"server": direct_env.url.replace("127.0.0.1", "fakekube.invalid"),
               "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"token": "x"}))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(KubeError):
        run(["true"], stdin=None)
    assert fallbacks(tmp_path) == ["a proxy applies (HTTPS_PROXY/NO_PROXY)"]


class ProxyCase(NamedTuple):
    host: str
    no_proxy: str
    applies: bool


PROXY_CASES = [
    ProxyCase("10.1.2.3", "", True),
    ProxyCase("127.0.0.1", "", False),
    ProxyCase("localhost", "", False),
    ProxyCase("api.example.com", "*", False),
    ProxyCase("api.example.com", "example.com", False),
    ProxyCase("api.example.com", ".example.com", False),
    ProxyCase("example.com", ".example.com", False),
    ProxyCase("api.example.org", "example.com", True),
    ProxyCase("badexample.com", "example.com", True),
    ProxyCase("10.1.2.3", "10.0.0.0/8", False),
    ProxyCase("11.1.2.3", "10.0.0.0/8", True),
    ProxyCase("api.example.com", "api.example.com:6443", False),
    ProxyCase("api.example.com", "api.example.com:443", True),
]


@pytest.mark.parametrize("case", PROXY_CASES, ids=[f"{c.host}-{c.no_proxy}" for c in PROXY_CASES])
def test_no_proxy_follows_gos_rules(case: ProxyCase) -> None:
    assert proxy_applies(case.host, 6443, case.no_proxy) is case.applies


def test_a_server_without_v5_serves_reads_over_v4_and_hands_stdin_to_kubectl(
        direct_env: FakeKubeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exec_stream, "SUPPORTED", (exec_stream.V4,))
    assert run(["echo", "v4"]).out == b"v4\n"
    assert fallbacks(tmp_path) == []
    try:
        run(["cat"], stdin=b"x")
    except KubeError:
        pass  # kubectl offers only v5 too; this fake refuses it as well
    assert fallbacks(tmp_path) == ["the server does not speak exec v5.channel.k8s.io"]


def test_a_signal_during_kubeconfig_resolution_unwinds_instead_of_falling_back(
        direct_env: FakeKubeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A canceled start must roll back at once: its SIGTERM (protocol.rollback.Interrupted)
    # may land while kubectl resolves the kubeconfig, and must not become a "fallback".
    from protocol.rollback import Interrupted
    from providers.kube.transport import kubeconfig

    def interrupted(*_args: object, **_kw: object) -> object:
        raise Interrupted("interrupted by SIGTERM; rolled back")

    cluster = {"server": direct_env.url, "certificate-authority-data": ca_b64(direct_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"token": "x"}))
    monkeypatch.setattr(kubeconfig, "run", interrupted)
    with pytest.raises(Interrupted):
        run(["true"])
    assert fallbacks(tmp_path) == []
