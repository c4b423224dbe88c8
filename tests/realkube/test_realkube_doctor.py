"""`gc-session-k8s doctor` against the real authorizer (SelfSubjectAccessReview)."""

from __future__ import annotations

import json

import pytest
from helpers import wait_for
from realkube_support import ControllerNamespace
from test_realkube_least_privilege import can_i, without

pytestmark = pytest.mark.realkube

#: Every permission the providers use, as doctor names them.
EVERY_VERB = ("get pods", "list pods", "watch pods", "create pods", "delete pods",
              "create pods/exec", "get pods/exec")


def rbac_check(ctl: ControllerNamespace) -> tuple[int, dict[str, str]]:
    res = ctl.provider.run("doctor", "--json", timeout=120)
    checks = json.loads(res.out)["checks"]
    rbac: dict[str, str] = next(c for c in checks if c["name"] == "rbac")
    return res.rc, rbac


def test_doctor_reports_every_verb_granted_by_the_example_role(controller: ControllerNamespace) -> None:
    rc, rbac = rbac_check(controller)
    assert rc == 0, rbac
    assert rbac["status"] == "ok"
    for verb in EVERY_VERB:
        assert verb in rbac["detail"], verb


def test_doctor_names_the_exec_verb_the_real_authorizer_denies(controller: ControllerNamespace) -> None:
    controller.set_role_rules(without(controller.role()["rules"], "pods/exec", "get"))
    assert wait_for(lambda: not can_i(controller, "get", "pods/exec"), timeout=30)
    rc, rbac = rbac_check(controller)
    assert rc == 1
    assert rbac["status"] == "fail"
    assert "get pods/exec" in rbac["detail"] and "create pods/exec" not in rbac["detail"]
