"""`gc-beads-k8s doctor --json`: the findings as one JSON document, `get pods/exec` among the verbs."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

from beads_helpers import City, make_city


def test_doctor_json_is_one_document_that_passes_on_a_ready_cluster(city: City) -> None:
    res = city.run("doctor", "--json")
    assert res.rc == 0, res.out + res.err
    doc = json.loads(res.out)
    assert doc["ok"] is True
    names = [c["name"] for c in doc["checks"]]
    assert names[:4] == ["kubectl", "GC_K8S_IMAGE", "runner", "cluster"]
    assert {"namespace", "RBAC", "dolt"} <= set(names)


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


def test_doctor_kubectl_is_ok_only_when_it_answers(bare_city: City, shared_dir: Path) -> None:
    """A kubectl that exists but does not run is not "ok"; the version it printed is shown when it does."""
    broken = shared_dir / "kubectl-broken"
    broken.write_text("#!/bin/sh\necho 'kubectl: cannot execute' >&2\nexit 126\n")
    broken.chmod(0o755)
    res = bare_city.run("doctor", "--json", env={"GC_KUBECTL": str(broken)})
    assert res.rc == 1
    kubectl = next(c for c in json.loads(res.out)["checks"] if c["name"] == "kubectl")
    assert kubectl["status"] == "fail" and "cannot execute" in kubectl["detail"]
    good = next(c for c in json.loads(bare_city.run("doctor", "--json").out)["checks"]
                if c["name"] == "kubectl")
    assert good["status"] == "ok" and "(v" in good["detail"]


def test_doctor_dolt_target_is_not_ok_without_the_runner_pod(bare_city: City) -> None:
    """Parsing GC_K8S_DOLT_* says nothing about the server: with no runner pod to look from, say so."""
    res = bare_city.run("doctor", "--json")
    dolt = next(c for c in json.loads(res.out)["checks"] if c["name"] == "dolt")
    assert dolt["status"] == "info"
    assert f"fake-dolt:{bare_city.port} (GC_K8S_DOLT_HOST/PORT); not checked" in dolt["detail"]


def test_doctor_warns_when_the_dolt_host_does_not_resolve_in_the_runner_pod(city: City) -> None:
    res = city.run("doctor")
    assert res.rc == 0, res.out + res.err
    dolt = next(line for line in res.out.splitlines() if "dolt target" in line)
    assert dolt.startswith("warn") and "fake-dolt does not resolve in runner pod" in dolt
    assert res.out.splitlines()[-1] == "all checks passed, 1 warning(s)"


def test_doctor_dolt_target_answers_from_the_runner_pod(city: City) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = str(listener.getsockname()[1])
        res = city.run("doctor", "--json", env={"GC_K8S_DOLT_HOST": "127.0.0.1",
                                                "GC_K8S_DOLT_PORT": port})
    dolt = next(c for c in json.loads(res.out)["checks"] if c["name"] == "dolt")
    assert dolt["status"] == "ok", dolt
    assert dolt["detail"].startswith(f"127.0.0.1:{port} (GC_K8S_DOLT_HOST/PORT) answers from runner pod")


def test_doctor_fails_for_a_namespace_that_does_not_exist(kube_env: dict[str, str],
                                                          shared_dir: Path) -> None:
    missing = f"nosuchns-{uuid.uuid4().hex[:8]}"
    lost = make_city(kube_env, shared_dir, namespace=missing)
    res = lost.run("doctor", "--json")
    assert res.rc == 1
    ns = next(c for c in json.loads(res.out)["checks"] if c["name"] == "namespace")
    assert ns["status"] == "fail" and f"namespace {missing!r} does not exist" in ns["detail"]
