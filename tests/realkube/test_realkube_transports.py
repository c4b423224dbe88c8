"""The fast exec transports against the real kube-apiserver: `direct` (HTTPS + WebSocket v5
from the executable) and `helper` (the resident per-user process) carry the required
conformance suites as the least-privilege controller, every exec through the forced door
(the audit log shows no fallback to kubectl), and a refused exec reads as kubectl's does."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import stop_helper
from realkube_support import ControllerNamespace, run_kit

from providers.kube.transport import resident

pytestmark = [pytest.mark.realkube, pytest.mark.slow]


@pytest.fixture(params=["direct", "helper"])
def transport_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    where = tempfile.mkdtemp(prefix="gcrk-", dir="/tmp")  # short: the helper's socket lives here
    env = {"GC_K8S_TRANSPORT": str(request.param), "GC_K8S_RUNTIME_DIR": where + "/run",
           "GC_K8S_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    try:
        yield env
    finally:
        stop_helper(env["GC_K8S_RUNTIME_DIR"])
        shutil.rmtree(where, ignore_errors=True)


def exec_lines(audit_log: str) -> list[dict[str, Any]]:
    try:
        text = Path(audit_log).read_text()
    except FileNotFoundError:
        return []
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    return [line for line in lines if line.get("argv", [""])[0] == "exec"]


def test_required_suites_pass_through_each_fast_transport_as_the_least_privilege_controller(
        controller: ControllerNamespace, transport_env: dict[str, str]) -> None:
    env = {**controller.provider.env, **transport_env}
    res = run_kit(controller, "--only", "check", "--only", "rpp", "--only", "runtimetest", env=env)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert " 0 failed" in res.stdout
    lines = exec_lines(transport_env["GC_K8S_AUDIT_LOG"])
    mode = transport_env["GC_K8S_TRANSPORT"]
    # The helper path's first op finds no helper, starts one and goes direct.
    allowed = {"direct", "helper"} if mode == "helper" else {"direct"}
    assert lines, "no exec was audited"
    assert {line["transport"] for line in lines} <= allowed
    assert mode in {line["transport"] for line in lines}
    assert not [line for line in lines if "fallback" in line]
    if mode == "helper":  # the hot ops ran through resident streams of their pods
        assert any(line.get("resident") for line in lines)


def test_exec_refused_by_rbac_names_the_permission_through_each_fast_transport(
        controller: ControllerNamespace, transport_env: dict[str, str]) -> None:
    p = controller.provider
    env = {**p.env, **transport_env}
    name = f"t-{uuid.uuid4().hex[:6]}"
    assert controller.start(name).rc == 0
    for _ in range(2):  # the second, through the helper, leaves the pod's stream open
        assert p.run("is-running", name, env=env).out.strip() == "true"
    rules = [rule for rule in controller.role()["rules"]
             if "pods/exec" not in rule.get("resources", [])]
    controller.set_role_rules(rules)
    # RBAC changes reach the authorizer's cache shortly; an exec is authorized when it
    # opens, so a resident stream opened before serves until its age limit, no longer.
    deadline = time.monotonic() + 30 + resident.MAX_AGE
    while True:
        res = p.run("is-running", name, env=env)
        if res.rc != 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert res.rc == 1, res.out
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert 'resource "pods/exec"' in lines[0], lines[0]
    assert "forbidden" in lines[0].lower()
