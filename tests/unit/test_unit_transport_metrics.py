"""The transport counters' labels stay few whatever a fallback says, the helper's registry
counts from many threads and keeps its own counts out of a client's file, and its
``/metrics`` listener binds loopback only."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from protocol import metrics
from protocol.dispatch import observe
from protocol.settings import loopback_addr
from providers.kube.settings import METRICS_ADDR
from providers.kube.transport.interface import (
    FALLBACK_REASONS,
    Fallback,
    HelperAbsent,
    KubectlOnly,
    fallback_reason,
)

LABELS = {label for _, label in FALLBACK_REASONS} | {"helper_absent", "other"}


@given(st.text(max_size=200), st.sampled_from([Fallback, KubectlOnly, HelperAbsent]))
@settings(max_examples=200, deadline=None)
def test_a_fallback_reason_is_one_of_a_few_labels_whatever_its_text(text: str, kind: type[Fallback]) -> None:
    assert fallback_reason(kind(text)) in LABELS


@pytest.mark.parametrize(("reason", "label"), [
    ("no kubeconfig file", "no_kubeconfig_file"),
    ("a proxy applies (HTTPS_PROXY/NO_PROXY)", "proxy"),
    ("proxy-url in the kubeconfig", "proxy"),
    ("exec credential plugin exited 1", "exec_plugin"),
    ("the server does not speak exec v5.channel.k8s.io", "no_exec_v5"),
    ("certificate-authority /x/ca.crt unusable: bad", "tls_files"),
    ("server URL 'ftp://x' is not http(s)", "server_url"),
    ("the caller's working directory is unknown", "caller_cwd_unknown"),
    ("kubectl config view: exit 1", "kubeconfig_unresolved"),
])
def test_each_kind_of_fallback_has_its_own_label(reason: str, label: str) -> None:
    assert fallback_reason(KubectlOnly(reason)) == label
    assert fallback_reason(HelperAbsent(reason)) == "helper_absent"


def private_dir(tmp_path: Path) -> Path:
    where = tmp_path / f"metrics-{uuid.uuid4().hex[:8]}"
    where.mkdir(mode=0o700)
    return where


def parsed(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_layers_counts_are_folded_under_the_ops_executable(tmp_path: Path) -> None:
    where = private_dir(tmp_path)
    metrics.count(metrics.KUBECTL_SPAWNS)
    metrics.count(metrics.FALLBACKS, transport="helper", reason="helper_absent")
    metrics.count(metrics.CALLS, transport="kubectl")
    observe("gc-beads-k8s", "get", ["gc-1"], 1, 0.05, "KubeError", "", None,
            environ={"GC_METRICS_DIR": str(where)})
    got = parsed(metrics.read(str(where)).render())
    assert got[("gc_provider_kubectl_spawns_total", (("exe", "gc-beads-k8s"),))] == 1
    assert got[("gc_provider_transport_fallbacks_total",
                (("exe", "gc-beads-k8s"), ("reason", "helper_absent"), ("transport", "helper")))] == 1
    assert got[("gc_provider_transport_calls_total", (("exe", "gc-beads-k8s"), ("transport", "kubectl")))] == 1
    assert metrics.REGISTRY.samples == {}


def test_the_helpers_registry_counts_from_threads_and_keeps_its_counts_out_of_a_clients_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "REGISTRY", metrics.Registry())
    kept = metrics.keep_long(metrics.HELPER_EXE)
    assert metrics.keep_long("other") is kept and metrics.REGISTRY is kept

    def work() -> None:
        for _ in range(500):
            metrics.count(metrics.STREAMS, event="reused")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    where = private_dir(tmp_path)
    answered = metrics.Registry()
    answered.count(metrics.CALLS, 2, exe="gc-session-k8s", transport="helper")
    observe("gc-session-k8s", "is-running", ["s-1"], 0, 0.004, "", "", None,
            environ={"GC_METRICS_DIR": str(where)}, counted=answered)
    in_file = parsed(metrics.read(str(where)).render())
    assert in_file[("gc_provider_transport_calls_total",
                    (("exe", "gc-session-k8s"), ("transport", "helper")))] == 2
    assert not any(name.startswith("gc_provider_resident") for name, _ in in_file)
    own = parsed(kept.render())
    assert own == {("gc_provider_resident_streams_total", (("event", "reused"), ("exe", "gc-k8s-helper"))): 4000}


@pytest.mark.parametrize(("raw", "want"), [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)), ("localhost:1", ("127.0.0.1", 1)),
    ("[::1]:65535", ("::1", 65535)), ("127.1.2.3:80", ("127.1.2.3", 80)),
])
def test_a_loopback_address_is_taken(raw: str, want: tuple[str, int]) -> None:
    assert loopback_addr(raw, METRICS_ADDR.name) == want
    assert METRICS_ADDR.problem(raw) == ""


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_only_a_loopback_address_is_ever_taken(raw: str) -> None:
    try:
        host, port = loopback_addr(raw, METRICS_ADDR.name)
    except ValueError as error:
        assert "\n" not in str(error)
        assert METRICS_ADDR.problem(raw)
        return
    assert host == "::1" or host.startswith("127.")
    assert 0 < port < 65536


@pytest.mark.parametrize("raw", ["0.0.0.0:9464", ":9464", "10.0.0.1:9464", "[::]:9464",
                                 "example.com:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:http",
                                 "128.0.0.1:9464", "127.0.0.256:1"])
def test_any_other_address_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="GC_K8S_METRICS_ADDR"):
        loopback_addr(raw, METRICS_ADDR.name)


@pytest.mark.parametrize("exe", ["gc-session-k8s", "gc-beads-k8s"])
def test_a_metrics_address_off_loopback_is_exit_1_in_one_line(exe: str) -> None:
    import os
    import subprocess

    from helpers import executable

    env = {**os.environ, "GC_K8S_METRICS_ADDR": "0.0.0.0:9464", "GC_K8S_TRANSPORT": "kubectl",
           "GC_KUBECTL": "/bin/false"}
    res = subprocess.run([*executable(exe), "list-running" if exe == "gc-session-k8s" else "list"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert res.returncode == 1
    assert len(res.stderr.splitlines()) == 1
    assert "invalid GC_K8S_METRICS_ADDR='0.0.0.0:9464': want a loopback address" in res.stderr
