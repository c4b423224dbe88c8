"""Fault injection: transient errors are retried, the rest are clear one-line errors."""

from __future__ import annotations

from helpers import wait_for
from k8s_helpers import NAMESPACE, K8s

PODS = rf"/api/v1/namespaces/{NAMESPACE}/pods"


def test_list_running_retries_500_and_429(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    k8s.server.fail(method="GET", path=PODS, status=500, times=1)
    k8s.server.fail(method="GET", path=PODS, status=429, times=1)
    assert name in k8s.ok("list-running", "").split("\n")


def test_persistent_api_failure_is_a_one_line_error(k8s: K8s) -> None:
    k8s.server.fail(method="GET", path=PODS, status=503, times=None)
    try:
        # The production retry pauses (the suite shrinks them elsewhere): the whole policy runs.
        res = k8s.run("list-running", "", env={"GC_K8S_RETRY_BACKOFF": ""})
    finally:
        k8s.server.faults.clear()
    assert res.rc == 1
    assert res.err.count("\n") == 1 and "list pods" in res.err


def test_forbidden_exec_names_the_missing_rbac_verb(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    k8s.server.deny("create", "pods/exec")
    try:
        res = k8s.run("set-meta", name, "k", stdin="v")
    finally:
        k8s.server.faults.clear()
    assert res.rc == 1
    assert "create" in res.err and "pods/exec" in res.err and "RBAC" in res.err


def test_forbidden_create_fails_start_with_exit_1(k8s: K8s) -> None:
    k8s.server.deny("create", "pods")
    try:
        res = k8s.start(k8s.name())
    finally:
        k8s.server.faults.clear()
    assert res.rc == 1 and "RBAC" in res.err and "forbidden" in res.err.lower()


def test_quota_exceeded_is_a_temporary_start_failure(k8s: K8s) -> None:
    k8s.server.fail(method="POST", path=PODS, status=403, times=1,
                    message='pods "x" is forbidden: exceeded quota: compute, requested: cpu=500m')
    name = k8s.name()
    res = k8s.start(name)
    assert res.rc == 75, res
    assert "quota" in res.err
    assert k8s.pod(name) is None


def test_a_transient_create_error_is_retried(k8s: K8s) -> None:
    k8s.server.fail(method="POST", path=PODS, status=500, times=1)
    k8s.server.fail(method="POST", path=PODS, status=429, times=1)
    name = k8s.name()
    res = k8s.start(name)
    assert res.rc == 0, res.err
    assert k8s.ok("is-running", name) == "true"


def test_persistent_server_errors_on_create_are_temporary(k8s: K8s) -> None:
    k8s.server.fail(method="POST", path=PODS, status=503, times=None)
    name = k8s.name()
    try:
        res = k8s.start(name)
    finally:
        k8s.server.faults.clear()
    assert res.rc == 75, res
    assert k8s.pod(name) is None


def test_a_pod_stuck_pending_exits_75_and_leaves_nothing(k8s: K8s) -> None:
    name = k8s.name()
    k8s.server.hold_pending(pod=name)
    try:
        res = k8s.start(name, env={"GC_START_TIMEOUT_S": "4"})
    finally:
        k8s.server.faults.clear()
    assert res.rc == 75, res
    assert "Pending" in res.err
    assert wait_for(lambda: k8s.pod(name) is None)


def test_container_exit_reads_as_stopped_and_start_recreates(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    k8s.server.exit_container(NAMESPACE, name, 1)
    assert wait_for(lambda: k8s.ok("is-running", name) == "false")
    assert k8s.ok("process-alive", name, stdin="sleep") == "false"
    assert name not in k8s.ok("list-running", "").split("\n")
    assert k8s.run("nudge", name, stdin="hi").rc == 0
    again = k8s.start(name)
    assert again.rc == 0, again.err
    assert k8s.ok("is-running", name) == "true"


def test_an_evicted_pod_reads_as_stopped_and_start_recreates(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    k8s.server.evict(NAMESPACE, name)
    assert wait_for(lambda: k8s.ok("is-running", name) == "false")
    assert name not in k8s.ok("list-running", "").split("\n")
    assert k8s.start(name).rc == 0
    assert k8s.ok("is-running", name) == "true"


def test_missing_kubectl_is_a_clear_error(k8s: K8s) -> None:
    res = k8s.run("list-running", "", env={"GC_KUBECTL": "/nonexistent/kubectl"})
    assert res.rc == 1 and "kubectl" in res.err
    assert k8s.run("stop", "x", env={"GC_KUBECTL": "/nonexistent/kubectl"}).rc == 1


def test_start_requires_an_image(k8s: K8s) -> None:
    res = k8s.start(k8s.name(), env={"GC_K8S_IMAGE": ""})
    assert res.rc == 1 and "GC_K8S_IMAGE" in res.err


def test_dolt_host_without_port_is_rejected(k8s: K8s) -> None:
    res = k8s.start(k8s.name(), {"env": {"GC_DOLT_HOST": "db"}})
    assert res.rc == 1 and "GC_DOLT_PORT" in res.err


def test_read_only_hot_ops_retry_transient_api_errors(k8s: K8s) -> None:
    # The faults hit kubectl's pod GET before its exec; the other transports open the exec
    # at once (their retries: tests/kube/test_transport_direct.py, test_transport_helper.py).
    k8s.env["GC_K8S_TRANSPORT"] = "kubectl"
    name = k8s.name()
    assert k8s.start(name).rc == 0
    k8s.server.fail(method="GET", path=f"{PODS}/{name}", status=500, times=1)
    assert k8s.ok("is-running", name) == "true"
    k8s.server.fail(method="GET", path=f"{PODS}/{name}", status=429, times=1)
    assert k8s.ok("process-alive", name, stdin="sleep") == "true"


def test_writes_retry_errors_raised_before_the_command_ran(k8s: K8s) -> None:
    # The faults hit kubectl's pod GET before its exec; the other transports open the exec
    # at once (their retries: tests/kube/test_transport_direct.py, test_transport_helper.py).
    k8s.env["GC_K8S_TRANSPORT"] = "kubectl"
    name = k8s.name()
    assert k8s.start(name).rc == 0
    k8s.server.fail(method="GET", path=f"{PODS}/{name}", status=500, times=1)
    k8s.ok("send-keys", name, "Enter")
    k8s.server.fail(method="GET", path=f"{PODS}/{name}", status=500, times=None)
    try:
        res = k8s.run("send-keys", name, "Enter")
    finally:
        k8s.server.faults.clear()
    assert res.rc == 1 and res.err.count("\n") == 1
