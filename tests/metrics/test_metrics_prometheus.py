"""The real Prometheus scrapes the textfile directory (served on loopback as node_exporter
would), and for gc-session-k8s the helper's own listener too, during a simulated tick: its
query API returns op counters equal to the ops run, by op and exit, and a fault-injected
tick moves the error counter (and for gc-session-k8s the fallback, retry and kubectl ones)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import Provider, executable, stop_helper
from metrics_helpers import Exporter, Prometheus, debian_tool, free_port, private_dir

from providers.kube.transport.helper_client import control

TICK = [["is-running"], ["process-alive"], ["get-meta", "GC_SESSION_ID"], ["get-last-activity"]]


@pytest.mark.slow
def test_prometheus_counts_a_ticks_ops_by_op_and_exit_and_sees_a_faulty_tick_fail(
        tmux_provider: Provider, tmp_path: Path) -> None:
    binary = debian_tool("prometheus")
    where = private_dir(tmp_path)
    env = {**tmux_provider.env, "GC_METRICS_DIR": str(where)}
    ran: Counter[tuple[str, str, str]] = Counter()

    def op(argv: list[str], stdin: bytes = b"", extra: dict[str, str] | None = None) -> int:
        rc = subprocess.run([*tmux_provider.argv, *argv], input=stdin, capture_output=True,
                            env={**env, **(extra or {})}, timeout=60, check=False).returncode
        ran[("gc-session-tmux", argv[0], str(rc))] += 1
        return rc

    names = [f"p-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    exporter = Exporter(where)
    prometheus = Prometheus(binary, tmp_path, exporter.port)
    try:
        for name in names:
            cfg = {"work_dir": str(tmp_path), "command": "sleep 300", "env": {"GC_SESSION_ID": name}}
            assert op(["start", name], json.dumps(cfg).encode()) == 0
        for _ in range(2):  # two ticks: every session's reads, then the listing
            for name in names:
                for read in TICK:
                    stdin = b"sleep" if read[0] == "process-alive" else b""
                    assert op([read[0], name, *read[1:]], stdin) == 0
            assert op(["list-running", "p-"]) == 0
        assert prometheus.settle(dict(ran)) == ran

        # The fault: tmux itself is gone; every read of the tick fails (exit 1).
        for name in names:
            assert op(["get-meta", name, "GC_SESSION_ID"], extra={"GC_TMUX": "/nonexistent/tmux"}) == 1
        assert ran[("gc-session-tmux", "get-meta", "1")] == len(names)
        assert prometheus.settle(dict(ran)) == ran
        failed = prometheus.query('sum by (op) (gc_provider_ops_total{exit!="0"})')
        assert [(r["metric"]["op"], r["value"][1]) for r in failed] == [("get-meta", str(len(names)))]
        counted = prometheus.query('sum(gc_provider_op_duration_seconds_count{op="get-meta"})')
        assert counted[0]["value"][1] == str(2 * len(names) + len(names))
    finally:
        prometheus.stop()
        exporter.close()
        for name in names:
            tmux_provider.run("stop", name)


KUBECTL = "/usr/bin/kubectl"


def proxied_kubeconfig(kubeconfig: str, where: Path) -> str:
    """A copy of ``kubeconfig`` whose clusters go through a proxy nobody listens on: the
    helper and direct cannot (a fallback to kubectl, reason ``proxy``), and kubectl's
    calls fail (an error)."""
    import yaml

    doc = yaml.safe_load(Path(kubeconfig).read_text())
    for entry in doc["clusters"]:
        entry["cluster"]["proxy-url"] = f"http://127.0.0.1:{free_port()}"
    path = where / "proxied-kubeconfig"
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return str(path)


@pytest.mark.slow
def test_prometheus_scrapes_the_helper_and_the_textfile_and_sees_a_faulty_tick_fall_back_and_fail(
        fake_kube: Any, tmp_path: Path) -> None:
    """gc-session-k8s under the default transport: the tick's reads are answered by the helper
    (counted into the client's textfile), the helper's own counters are served at
    GC_K8S_METRICS_ADDR, and a tick through a kubeconfig only kubectl could use (through a
    dead proxy) moves the fallback, retry, kubectl and error counters."""
    binary = debian_tool("prometheus")
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"{KUBECTL} is not installed")
    fake_kube.namespace("gc")
    where = private_dir(tmp_path)
    runtime = tempfile.mkdtemp(prefix="gcm-", dir="/tmp")  # short: the helper's socket
    helper_port = free_port()
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    env = {k: v for k, v in fake_kube.env.items() if not k.startswith("GC_K8S_")}
    env.update(GC_KUBECTL=KUBECTL, GC_K8S_IMAGE="gc-test/agent:latest", GC_K8S_NAMESPACE="gc",
               GC_EXEC_STATE_DIR=str(state), GC_K8S_AUDIT_LOG=str(tmp_path / "audit.jsonl"),
               GC_K8S_TRANSPORT="auto", GC_K8S_RUNTIME_DIR=runtime + "/run",
               GC_K8S_RETRY_BACKOFF="0.01,0.03", GC_METRICS_DIR=str(where),
               GC_K8S_METRICS_ADDR=f"127.0.0.1:{helper_port}")
    argv = executable("gc-session-k8s")
    ran: Counter[tuple[str, str, str]] = Counter()

    def op(args: list[str], stdin: bytes = b"", extra: dict[str, str] | None = None) -> int:
        rc = subprocess.run([*argv, *args], input=stdin, capture_output=True,
                            env={**env, **(extra or {})}, timeout=120, check=False).returncode
        ran[("gc-session-k8s", args[0], str(rc))] += 1
        return rc

    names = [f"pk-{uuid.uuid4().hex[:7]}" for _ in range(2)]
    exporter = Exporter(where)
    prometheus = Prometheus(binary, tmp_path, exporter.port, helper_port)
    try:
        for name in names:
            assert op(["start", name], json.dumps({"command": "sleep 300"}).encode()) == 0
        deadline = time.monotonic() + 30
        while control("status", {"GC_K8S_RUNTIME_DIR": runtime + "/run"}) is None:
            assert time.monotonic() < deadline, "the helper did not start"
            time.sleep(0.05)
        for _ in range(2):
            for name in names:
                for read in TICK:
                    stdin = b"sleep" if read[0] == "process-alive" else b""
                    assert op([read[0], name, *read[1:]], stdin) == 0
            assert op(["list-running", "pk-"]) == 0
        assert prometheus.settle(dict(ran)) == ran
        # The helper's own registry, through its loopback listener: its resident streams.
        assert prometheus.rises('gc_provider_resident_streams_total{exe="gc-k8s-helper"}', 0) > 0
        assert prometheus.total('gc_provider_transport_calls_total{transport="helper"}') > 0

        before = {expr: prometheus.total(expr) for expr in FAULT_COUNTERS}
        proxied = proxied_kubeconfig(env["KUBECONFIG"], tmp_path)
        for name in names:
            assert op(["get-meta", name, "GC_SESSION_ID"], extra={"KUBECONFIG": proxied}) == 1
        assert prometheus.settle(dict(ran)) == ran
        failed = prometheus.query('sum by (op) (gc_provider_ops_total{exit!="0"})')
        assert [(r["metric"]["op"], r["value"][1]) for r in failed] == [("get-meta", str(len(names)))]
        for expr, was in before.items():
            assert prometheus.rises(expr, was) > was, expr
        reasons = prometheus.query("sum by (reason) (gc_provider_transport_fallbacks_total)")
        assert "proxy" in {r["metric"]["reason"] for r in reasons}

        shown = subprocess.run([*argv, "metrics"], env=env, capture_output=True, timeout=60, check=False)
        assert shown.returncode == 0, shown.stderr
        assert b'gc_provider_resident_streams_total{event="opened",exe="gc-k8s-helper"}' in shown.stdout
        checked = subprocess.run([debian_tool("promtool"), "check", "metrics"], input=shown.stdout,
                                 capture_output=True, timeout=60, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        prometheus.stop()
        exporter.close()
        for name in names:
            subprocess.run([*argv, "stop", name], env={**env, "GC_METRICS_DIR": ""}, capture_output=True,
                           timeout=120, check=False)
        stop_helper(runtime + "/run")
        shutil.rmtree(runtime, ignore_errors=True)


#: What a tick through a dead proxy moves: the fallback to kubectl (by reason), its
#: processes, the retries of the failing reads, the helper handing its answers back.
FAULT_COUNTERS = (
    'gc_provider_transport_fallbacks_total{reason="proxy"}',
    "gc_provider_kubectl_spawns_total",
    "gc_provider_retries_total",
    'gc_provider_transport_fallbacks_total{transport="helper_answer"}',
)
