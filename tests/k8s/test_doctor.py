"""`doctor`: one line per check, exit 1 naming what is missing."""

from __future__ import annotations

import json
import uuid

from k8s_helpers import K8s


def test_doctor_passes_on_a_ready_cluster(k8s: K8s) -> None:
    res = k8s.run("doctor")
    assert res.rc == 0, res.out + res.err
    assert [line.split()[0] for line in res.out.splitlines()] == ["ok"] * 5


def test_doctor_names_a_denied_rbac_verb_and_a_missing_image(k8s: K8s) -> None:
    k8s.server.deny("create", "pods/exec")
    try:
        res = k8s.run("doctor", env={"GC_K8S_IMAGE": ""})
    finally:
        k8s.server.faults.clear()
    assert res.rc == 1
    rbac = next(line for line in res.out.splitlines() if "rbac" in line)
    assert rbac.startswith("FAIL") and "create pods/exec" in rbac
    assert any(line.startswith("FAIL  image") for line in res.out.splitlines())


def test_doctor_usage_errors_exit_1_not_2(k8s: K8s) -> None:
    assert k8s.run("doctor", "--bogus").rc == 1


def test_doctor_fails_for_a_namespace_that_does_not_exist(k8s: K8s) -> None:
    """Listing pods in a missing namespace answers an empty list; the doctor must not read that as ok."""
    missing = f"nosuchns-{uuid.uuid4().hex[:8]}"
    res = k8s.run("doctor", env={"GC_K8S_NAMESPACE": missing})
    assert res.rc == 1, res.out + res.err
    line = next(line for line in res.out.splitlines() if "namespace" in line)
    assert line.startswith("FAIL") and f"namespace {missing!r} does not exist" in line


def test_doctor_checks_the_namespace_by_a_dry_run_create_when_namespaces_are_forbidden(k8s: K8s) -> None:
    """The example Role grants no cluster-scoped `get namespaces`: the pod-create admission answers."""
    missing = f"nosuchns-{uuid.uuid4().hex[:8]}"
    k8s.server.deny("get", "namespaces")
    try:
        present = k8s.run("doctor", "--json")
        absent = k8s.run("doctor", "--json", env={"GC_K8S_NAMESPACE": missing})
    finally:
        k8s.server.faults.clear()
    assert present.rc == 0, present.out + present.err
    found = next(c for c in json.loads(present.out)["checks"] if c["name"] == "namespace")
    assert found["status"] == "ok" and "dry-run" in found["detail"]
    assert absent.rc == 1
    gone = next(c for c in json.loads(absent.out)["checks"] if c["name"] == "namespace")
    assert gone["status"] == "fail" and "does not exist" in gone["detail"]
    assert not [p for p in k8s.server.store.list("pods", None)
                if p["metadata"]["name"] == "gc-doctor-dry-run"]
