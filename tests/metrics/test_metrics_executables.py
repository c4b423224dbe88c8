"""Each executable counts its ops by op and exit in $GC_METRICS_DIR, `metrics` prints them in a
form promtool accepts, and every op gc calls leaves one JSON line with its correlation id."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from helpers import Provider, executable
from metrics_helpers import debian_tool, op_counts, private_dir

from providers.kube.audit import is_secret_key

#: Offline: the Kubernetes executables' pod execs fail at once (kubectl is /bin/false).
NO_CLUSTER = {"GC_K8S_TRANSPORT": "kubectl", "GC_KUBECTL": "/bin/false", "GC_K8S_AUDIT_LOG": ""}


def run(exe: str, *args: str, env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*executable(exe), *args], input=stdin, capture_output=True,
                          env=env, timeout=120, check=False)


def calls(tmux_provider: Provider) -> dict[str, list[list[str]]]:
    """Ops of each executable that need no cluster: some fail (exit 1), some are unknown (2),
    and the session providers' others succeed."""
    missing = f"m-{uuid.uuid4().hex[:8]}"
    return {
        "gc-session-tmux": [["is-running", missing], ["is-running", missing], ["get-meta", "", "k"],
                            ["list-running", "m-"], ["frobnicate"]],
        "gc-session-k8s": [["protocol"], ["get-meta", missing, "k"], ["frobnicate"]],
        "gc-beads-k8s": [["get", "gc-1"], ["frobnicate"], ["frobnicate"]],
    }


@pytest.mark.parametrize("exe", ["gc-session-tmux", "gc-session-k8s", "gc-beads-k8s"])
def test_every_executable_counts_its_ops_by_op_and_exit_and_promtool_accepts_them(
        exe: str, tmux_provider: Provider, tmp_path: Path) -> None:
    promtool = debian_tool("promtool")
    where = private_dir(tmp_path)
    env = {**tmux_provider.env, **NO_CLUSTER, "GC_STORE_ROOT": str(tmp_path), "GC_METRICS_DIR": str(where)}
    want: Counter[tuple[str, str, str]] = Counter()
    for argv in calls(tmux_provider)[exe]:
        rc = run(exe, *argv, env=env).returncode
        want[(exe, argv[0] if argv[0] != "frobnicate" else "unknown", str(rc))] += 1
    assert {code for _, _, code in want} == ({"1", "2"} if exe == "gc-beads-k8s" else {"0", "1", "2"})
    shown = run(exe, "metrics", env=env)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert op_counts(text) == want
    assert 'gc_provider_op_duration_seconds_bucket{exe="' + exe in text
    checked = subprocess.run([promtool, "check", "metrics"], input=shown.stdout, capture_output=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_metrics_off_writes_nothing_and_the_metrics_command_says_how_to_turn_them_on(
        tmux_provider: Provider, tmp_path: Path) -> None:
    env = {k: v for k, v in tmux_provider.env.items() if k != "GC_METRICS_DIR"}
    assert run("gc-session-tmux", "is-running", "m-off", env=env).returncode == 0
    res = run("gc-session-tmux", "metrics", env=env)
    assert res.returncode == 1
    assert res.stderr.decode().splitlines() == [
        "gc-session-tmux metrics: metrics are off: set GC_METRICS_DIR to a directory of yours nobody else can write"]


def test_a_metrics_dir_others_can_write_leaves_the_op_alone_and_metrics_says_why(
        tmux_provider: Provider, tmp_path: Path) -> None:
    where = private_dir(tmp_path)
    where.chmod(0o777)
    env = {**tmux_provider.env, "GC_METRICS_DIR": str(where)}
    res = run("gc-session-tmux", "is-running", "m-untrusted", env=env)
    assert (res.returncode, res.stdout, res.stderr) == (0, b"false\n", b"")
    assert list(where.iterdir()) == []
    shown = run("gc-session-tmux", "metrics", env=env)
    assert shown.returncode == 1
    assert len(shown.stderr.splitlines()) == 1 and b"writable by others" in shown.stderr


#: A start config whose env carries secrets under the names the audit rules call secret.
SECRET_ENV = {"GITHUB_PAT": "ghp_s3cr3t-pat-tmux", "ANTHROPIC_API_KEY": "sk-s3cr3t-key",
              "GC_DOLT_PASSWORD": "s3cr3t-dolt", "GC_INSTANCE_TOKEN": "tok-s3cr3t"}


def test_every_tmux_op_leaves_one_line_with_its_correlation_ids_and_no_secret(
        tmux_provider: Provider, tmp_path: Path) -> None:
    assert all(is_secret_key(k) for k in SECRET_ENV)
    log = tmp_path / "ops.jsonl"
    name = f"t-{uuid.uuid4().hex[:8]}"
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    env = {**tmux_provider.env, "GC_TMUX_LOG": str(log), "GC_SESSION_ID": "gc-42", "TRACEPARENT": trace}
    cfg = {"work_dir": str(tmp_path), "command": "sleep 300", "env": {**SECRET_ENV, "GC_SESSION_ID": "gc-42"}}
    ops: list[tuple[list[str], bytes]] = [
        (["start", name], json.dumps(cfg).encode()),
        (["is-running", name], b""), (["get-meta", name, "GITHUB_PAT"], b""),
        (["set-meta", name, "API_TOKEN"], b"s3cr3t-meta"), (["process-alive", name], b"sleep"),
        (["get-last-activity", name], b""), (["peek", name, "5"], b""), (["nudge", name], b"hi"),
        (["list-running", "t-"], b""), (["get-meta", "", "k"], b""),  # a bad name: exit 1
        (["stop", name], b""),
    ]
    try:
        codes = [run("gc-session-tmux", *argv, env={**env, "GC_NUDGE_DEBOUNCE_MS": "0"}, stdin=data).returncode
                 for argv, data in ops]
    finally:
        tmux_provider.run("stop", name)
    assert codes[:-2] == [0] * 9 and codes[-2] == 1
    text = log.read_text()
    for secret in [*SECRET_ENV.values(), "s3cr3t"]:
        assert secret not in text
    lines = [orjson.loads(line) for line in text.splitlines()]
    assert [(e["op"], e["exit"]) for e in lines] == [(argv[0], rc) for (argv, _), rc in zip(ops, codes, strict=True)]
    assert len({e["id"] for e in lines}) == len(lines)  # one id per op
    for entry in lines:
        assert entry["kind"] == "op" and entry["exe"] == "gc-session-tmux"
        assert len(entry["id"]) == 12 and int(entry["id"], 16) >= 0
        assert entry["gc_session_id"] == "gc-42" and entry["trace"] == trace
        assert entry["duration_ms"] >= 0
        assert entry["session"] == {"list-running": "t-"}.get(entry["op"], name if entry["exit"] == 0 else "")
    assert lines[-1]["op"] == "stop" and "error" not in lines[-1]
    assert lines[-2]["error"] == "UsageError"

    shown = run("gc-session-tmux", "stats", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    rows = {row["op"]: row for row in orjson.loads(shown.stdout)}
    assert rows["get-meta"]["count"] == 2 and rows["get-meta"]["errors"] == 1
    assert rows["get-meta"]["error_ratio"] == 0.5
    assert rows["start"]["p50_ms"] <= rows["start"]["p95_ms"] <= rows["start"]["p99_ms"]
    table = run("gc-session-tmux", "stats", str(log), env={**env, "GC_TMUX_LOG": ""})
    assert table.returncode == 0 and table.stdout.decode().splitlines()[0].split() == [
        "op", "count", "errors", "error%", "p50", "ms", "p95", "ms", "p99", "ms"]
    assert log.read_text() == text  # stats reads the lines and adds none


def test_a_beads_op_leaves_its_line_in_the_audit_log_beside_its_calls(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    env = {**os.environ, **NO_CLUSTER, "GC_STORE_ROOT": str(tmp_path), "GC_K8S_AUDIT_LOG": str(audit),
           "GC_REQUEST_ID": "req-7"}
    assert run("gc-beads-k8s", "get", "gc-1", env=env).returncode == 1
    lines = [orjson.loads(line) for line in audit.read_bytes().splitlines()]
    ops = [e for e in lines if e.get("kind") == "op"]
    assert [(e["exe"], e["op"], e["exit"], e["request"]) for e in ops] == [("gc-beads-k8s", "get", 1, "req-7")]
    calls = [e for e in lines if e.get("kind") != "op"]
    assert calls and {e["id"] for e in calls} == {ops[0]["id"]}
