"""`gc-session-k8s doctor --json`: the same findings as one JSON document; `get pods/exec` is checked."""

from __future__ import annotations

import json

from k8s_helpers import K8s


def test_doctor_json_lists_every_check_and_passes_on_a_ready_cluster(k8s: K8s) -> None:
    res = k8s.run("doctor", "--json")
    assert res.rc == 0, res.out + res.err
    doc = json.loads(res.out)
    assert doc["ok"] is True
    assert [c["name"] for c in doc["checks"]] == ["kubectl", "context", "namespace", "rbac", "image"]
    assert {c["status"] for c in doc["checks"]} == {"ok"}


def test_doctor_fails_when_exec_over_websocket_is_denied(k8s: K8s) -> None:
    """kubectl >= 1.30 execs with a WebSocket GET: a Role without `get pods/exec` breaks every op."""
    k8s.server.deny("get", "pods/exec")
    try:
        res = k8s.run("doctor", "--json")
    finally:
        k8s.server.faults.clear()
    assert res.rc == 1
    rbac = next(c for c in json.loads(res.out)["checks"] if c["name"] == "rbac")
    assert rbac["status"] == "fail" and "get pods/exec" in rbac["detail"]
