"""The real Prometheus scrapes the textfile directory (served on loopback as node_exporter
would) during a simulated tick of gc-session-tmux: its query API returns op counters equal
to the ops run, by op and exit, and a fault-injected tick moves the error counter."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import pytest
from helpers import Provider
from metrics_helpers import Exporter, Prometheus, debian_tool, private_dir

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
