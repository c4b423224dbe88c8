"""`doctor`: one line per check, exit 1 naming what is missing."""

from __future__ import annotations

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
