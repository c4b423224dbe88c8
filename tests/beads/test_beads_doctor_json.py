"""`gc-beads-k8s doctor --json`: the findings as one JSON document, `get pods/exec` among the verbs."""

from __future__ import annotations

import json

from beads_helpers import City


def test_doctor_json_is_one_document_that_passes_on_a_ready_cluster(city: City) -> None:
    res = city.run("doctor", "--json")
    assert res.rc == 0, res.out + res.err
    doc = json.loads(res.out)
    assert doc["ok"] is True
    names = [c["name"] for c in doc["checks"]]
    assert names[:5] == ["kubectl", "GC_K8S_IMAGE", "dolt", "runner", "cluster"]
    assert "RBAC" in names


def test_doctor_json_names_a_denied_exec_get(city: City, fake_kube: object) -> None:
    server = fake_kube.server  # type: ignore[attr-defined]
    server.faults.add("deny", verb="get", resource="pods/exec", times=None)
    try:
        res = city.run("doctor", "--json")
    finally:
        server.faults.clear()
    assert res.rc == 1
    rbac = next(c for c in json.loads(res.out)["checks"] if c["name"] == "RBAC")
    assert rbac["status"] == "fail" and "get pods/exec" in rbac["detail"]
