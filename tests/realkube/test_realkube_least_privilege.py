"""Least privilege, proven by the real RBAC authorizer: every rule of examples/k8s/rbac.yaml
is needed. With one (resource, verb) pair cut from the Role, the operation that needs it
fails with exit 1 and one line naming the missing permission."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import pytest
from helpers import wait_for
from realkube_support import SA, ControllerNamespace

pytestmark = pytest.mark.realkube


class Cut(NamedTuple):
    resource: str
    verb: str
    op: str  # the operation that needs the pair
    running: bool  # whether the op runs against a started session
    stdin: str = ""


CUTS = [
    Cut("pods", "create", "start", running=False),
    Cut("pods", "delete", "stop", running=True),
    Cut("pods", "get", "get-meta", running=True),
    Cut("pods", "list", "list-running", running=False),
    Cut("pods", "watch", "start", running=False),
    Cut("pods/exec", "create", "is-running", running=True),
    Cut("pods/exec", "create", "peek", running=True),
    Cut("pods/exec", "create", "nudge", running=True, stdin="hi"),
]


def without(rules: list[dict[str, Any]], resource: str, verb: str) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        if resource in rule["resources"]:
            rule = {**rule, "verbs": [v for v in rule["verbs"] if v != verb]}
        if rule["verbs"]:
            out.append(rule)
    return out


def can_i(ctl: ControllerNamespace, verb: str, resource: str) -> bool:
    base, _, sub = resource.partition("/")
    res = ctl.cluster.kubectl("-n", ctl.namespace, "auth", "can-i", verb, base, f"--subresource={sub}",
                              f"--as=system:serviceaccount:{ctl.namespace}:{SA}")
    return res.stdout.strip() == "yes"


@pytest.mark.parametrize("cut", CUTS, ids=lambda c: f"{c.op}-without-{c.verb}-{c.resource}")
def test_operation_fails_naming_the_permission_cut_from_the_role(
        controller: ControllerNamespace, cut: Cut) -> None:
    name = f"s-{uuid.uuid4().hex[:6]}"
    if cut.running:
        assert controller.start(name).rc == 0
    controller.set_role_rules(without(controller.role()["rules"], cut.resource, cut.verb))
    assert wait_for(lambda: not can_i(controller, cut.verb, cut.resource), timeout=30)
    if cut.op == "start":
        res = controller.start(name)
    elif cut.op == "list-running":
        res = controller.provider.run(cut.op, "")
    elif cut.op == "peek":
        res = controller.provider.run(cut.op, name, "10", timeout=120)
    elif cut.op == "get-meta":
        res = controller.provider.run(cut.op, name, "GC_KEY")
    else:
        res = controller.provider.run(cut.op, name, stdin=cut.stdin, timeout=120)
    assert res.rc == 1, res
    assert len(res.err.strip().splitlines()) == 1, res.err
    # As the real server words it: the subresource joins the resource ("pods/exec").
    assert f'{cut.verb} resource "{cut.resource}"' in res.err, res.err
    assert "RBAC" in res.err, res.err


def test_kube_1_37_does_not_need_get_pods_exec_for_a_session(
        controller: ControllerNamespace) -> None:
    """kube-apiserver 1.37 authorizes kubectl's WebSocket exec (a GET) as `create pods/exec`:
    the Role's `get pods/exec` (for servers that authorize the GET as `get`) is unused here,
    the one rule no operation needs against this server. Doctor still asks for it."""
    rules = without(controller.role()["rules"], "pods/exec", "get")
    controller.set_role_rules(rules)
    assert wait_for(lambda: not can_i(controller, "get", "pods/exec"), timeout=30)
    p = controller.provider
    name = f"s-{uuid.uuid4().hex[:6]}"
    assert controller.start(name, {"command": "cat"}).rc == 0
    assert p.ok("is-running", name) == "true"
    p.ok("nudge", name, stdin="no-get-exec")
    assert wait_for(lambda: p.ok("peek", name, "20").count("no-get-exec") >= 2, timeout=30)
    assert p.run("stop", name, timeout=120).rc == 0
