"""The ledger tunnel on the real API server, the provider authenticated as the
gc-controller ServiceAccount of examples/k8s/rbac.yaml (no verb beyond it: exec is the
carrier, no port-forward), pods running as uid 1000 under Pod Security `restricted`: a
request from inside the pod reaches a server on the controller's loopback, and nothing
else on the controller is reachable through it."""

from __future__ import annotations

import uuid

import orjson
import pytest
from helpers import box_tools
from ledger_helpers import FETCH, PROXY, forwarders, serving, shell_quote, tunnel_processes
from realkube_support import ControllerNamespace

pytestmark = pytest.mark.realkube

LEDGER = {"GC_K8S_LEDGER": "1"}
BOX_TOOLS = box_tools()  # where a pod's user can run them


def start(ctl: ControllerNamespace, url: str) -> str:
    name = f"l-{uuid.uuid4().hex[:6]}"
    ctl.started.append(name)
    cfg = {"command": "sleep 300", "env": {"GC_BEADS_API": url}}
    res = ctl.provider.run("start", name, stdin=orjson.dumps(cfg), timeout=120, env=LEDGER)
    assert res.rc == 0, res.err
    return name


def test_the_role_grants_no_port_forward_and_the_tunnel_needs_none(
        controller: ControllerNamespace) -> None:
    granted = {(r, v) for rule in controller.role()["rules"] for r in rule["resources"]
               for v in rule["verbs"]}
    assert not [pair for pair in granted if pair[0] == "pods/portforward"]
    with serving(b'{"ready":[]}') as api:
        name = start(controller, api.url)
        out = controller.provider.ok("exec", name, stdin=shell_quote(
            "python3", "-c", FETCH, "/v0/beads/ready"), timeout=60)
        assert out == '200 {"ready":[]}'
        res = controller.provider.run("exec", name, stdin=f"PATH={BOX_TOOLS}:$PATH bd ready",
                                      timeout=60)
        assert (res.rc, res.out.strip()) == (0, "[]"), res.err
        assert api.paths == ["/v0/beads/ready"] * 2


def test_only_the_beads_api_is_reachable_through_the_tunnel(
        controller: ControllerNamespace) -> None:
    with serving(b'{"ready":[]}') as api, serving(b"secret") as other:
        name = start(controller, api.url)
        out = controller.provider.ok("exec", name, stdin=shell_quote(
            "python3", "-c", PROXY, str(other.port)), timeout=60)
        assert out.startswith("HTTP/1.0 404")
        assert other.connections == 0
        assert api.paths == [f"http://127.0.0.1:{other.port}/secret"]


def test_stop_leaves_no_process_of_the_tunnel(controller: ControllerNamespace) -> None:
    with serving(b'{"ready":[]}') as api:
        name = start(controller, api.url)
        url = controller.provider.ok("exec", name, stdin='printf %s "$GC_BEADS_API"', timeout=60)
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        assert len(forwarders(name)) == 1
        assert len(tunnel_processes(name, port)) >= 3  # forwarder, kubectl, pod side
        assert controller.provider.run("stop", name, timeout=120).rc == 0
        assert tunnel_processes(name, port) == []
