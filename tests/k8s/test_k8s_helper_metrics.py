"""The helper's own registry (its resident streams, kept answers): served at
GC_K8S_METRICS_ADDR on loopback only, and printed by `gc-session-k8s metrics` with the
textfile, in a form promtool accepts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from k8s_helpers import K8s
from prometheus_client.parser import text_string_to_metric_families

from providers.kube.transport.helper_client import control


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def wait_for_helper(k8s: K8s) -> None:
    deadline = time.monotonic() + 30
    while control("status", {"GC_K8S_RUNTIME_DIR": k8s.env["GC_K8S_RUNTIME_DIR"]}) is None:
        assert time.monotonic() < deadline, "the helper did not start"
        time.sleep(0.05)


def test_the_helper_serves_its_registry_on_loopback_and_metrics_prints_it_with_the_file(
        k8s: K8s, tmp_path: Path) -> None:
    port = free_port()
    where = tmp_path / f"metrics-{uuid.uuid4().hex[:8]}"
    where.mkdir(mode=0o700)
    k8s.env.update(GC_K8S_METRICS_ADDR=f"127.0.0.1:{port}", GC_METRICS_DIR=str(where))
    name = k8s.name()
    assert k8s.start(name).rc == 0
    wait_for_helper(k8s)
    for _ in range(3):
        assert k8s.run("is-running", name).value == "true"

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        served = samples(r.read().decode())
    opened = served.get(("gc_provider_resident_streams_total", (("event", "opened"), ("exe", "gc-k8s-helper"))), 0)
    reused = served.get(("gc_provider_resident_streams_total", (("event", "reused"), ("exe", "gc-k8s-helper"))), 0)
    hits = served.get(("gc_provider_kept_answer_hits_total", (("exe", "gc-k8s-helper"),)), 0)
    assert opened >= 1 and opened + reused + hits >= 3  # each read: a stream, or a kept answer
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
    assert refused.value.code == 404

    shown = k8s.run("metrics")
    assert shown.rc == 0, shown.err
    both = samples(shown.out)
    assert both[("gc_provider_ops_total", (("exe", "gc-session-k8s"), ("exit", "0"), ("op", "is-running")))] == 3
    assert both[("gc_provider_resident_streams_total", (("event", "opened"), ("exe", "gc-k8s-helper")))] >= 1
    promtool = shutil.which("promtool")
    if promtool:  # tests/metrics checks every executable's output with it (and installs it)
        checked = subprocess.run([promtool, "check", "metrics"], input=shown.out.encode(),
                                 capture_output=True, timeout=60, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("addr", ["0.0.0.0:9464", "[::]:9464", "192.0.2.1:9464"])
def test_a_helper_asked_to_listen_off_loopback_refuses_in_one_line_and_exits_1(addr: str) -> None:
    runtime = tempfile.mkdtemp(prefix="gck-", dir="/tmp")
    try:
        env = {**os.environ, "GC_K8S_RUNTIME_DIR": runtime + "/run", "GC_K8S_METRICS_ADDR": addr}
        res = subprocess.run([sys.executable, "-m", "gc_session_k8s.helper", "serve"], env=env,
                             capture_output=True, text=True, timeout=60, check=False, cwd="/")
        assert res.returncode == 1
        assert res.stderr.splitlines() == [
            (f"gc-k8s helper: GC_K8S_METRICS_ADDR={addr!r}: the metrics listener binds loopback only "
             "(127.0.0.1:PORT, [::1]:PORT or localhost:PORT)")]
        assert not [p for p in Path(runtime, "run").iterdir() if p.name.endswith(".sock")]
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_server_without_exec_v5_shows_as_the_resident_streams_fallback_in_the_helpers_registry(
        k8s: K8s, helper: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from protocol.conformance.fakekube import exec_stream
    from providers.kube.transport.helper_client import metrics_text

    name = k8s.name()
    assert k8s.start(name).rc == 0
    monkeypatch.setattr(exec_stream, "SUPPORTED", (exec_stream.V4,))
    assert k8s.run("get-meta", name, "GC_NONE").rc == 0  # served over v4 all the same
    text = metrics_text({"GC_K8S_RUNTIME_DIR": helper["GC_K8S_RUNTIME_DIR"]})
    assert text is not None
    assert samples(text)[("gc_provider_transport_fallbacks_total",
                          (("exe", "gc-k8s-helper"), ("reason", "no_exec_v5"), ("transport", "resident")))] >= 1
