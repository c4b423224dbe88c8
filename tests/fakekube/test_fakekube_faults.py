"""Fault injection, armed from Python and over the HTTP control endpoints."""

from __future__ import annotations

import time
import urllib.request
from typing import Any, NamedTuple

import orjson
import pytest
from fakekube_manifests import agent_pod, apply, running_pod, wait_until

from protocol.conformance.fakekube.fixtures import FakeKubeEnv


def _control(kube: FakeKubeEnv, method: str, path: str, body: Any = None) -> Any:
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(kube.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **kube.auth})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return orjson.loads(resp.read())


class ErrorCase(NamedTuple):
    status: int
    expect_in_stderr: str


@pytest.mark.parametrize("case", [
    ErrorCase(500, "injected fault"),
    ErrorCase(403, "injected fault"),
    ErrorCase(404, "injected fault"),
], ids=lambda c: str(c.status))
def test_armed_error_fails_the_next_matching_request_only(fake_kube: FakeKubeEnv, case: ErrorCase) -> None:
    ns = fake_kube.namespace()
    fake_kube.kubectl("-n", ns, "get", "pods")  # warm the discovery cache
    fake_kube.server.fail("GET", r"/api/v1/namespaces/gc/pods", status=case.status, times=1)
    r = fake_kube.kubectl("-n", ns, "get", "pods", "-o", "json")
    assert r.returncode == 1
    assert case.expect_in_stderr in r.stderr
    r = fake_kube.kubectl("-n", ns, "get", "pods", "-o", "json")
    assert r.returncode == 0, r.stderr


def test_429_carries_retry_after_and_kubectl_retries(fake_kube: FakeKubeEnv) -> None:
    ns = fake_kube.namespace()
    fake_kube.kubectl("-n", ns, "get", "pods")
    fake_kube.server.fail("GET", r"/api/v1/namespaces/gc/pods", status=429, retry_after=1, times=1)
    fake_kube.server.clear_requests()
    r = fake_kube.kubectl("-n", ns, "get", "pods", "-o", "json")
    assert r.returncode == 0, r.stderr  # client-go honours Retry-After and tries again
    lists = [q for q in fake_kube.server.requests() if q["path"] == "/api/v1/namespaces/gc/pods"]
    assert [q["status"] for q in lists] == [429, 200]


def test_hanging_request_times_out_the_client(fake_kube: FakeKubeEnv) -> None:
    ns = fake_kube.namespace()
    fake_kube.kubectl("-n", ns, "get", "pods")
    fake_kube.server.hang("GET", r"/api/v1/namespaces/gc/pods", times=1)
    started = time.monotonic()
    r = fake_kube.kubectl("-n", ns, "get", "pods", "--request-timeout=1s")
    assert r.returncode == 1
    assert time.monotonic() - started < 10
    assert "timeout" in r.stderr.lower() or "deadline" in r.stderr.lower(), r.stderr


def test_refused_and_slow_exec_upgrades(fake_kube: FakeKubeEnv) -> None:
    running_pod(fake_kube, "exec-faults", command="sleep infinity")
    fake_kube.server.refuse_exec(status=500, times=2)  # the websocket try and the SPDY fallback
    r = fake_kube.kubectl("-n", "gc", "exec", "exec-faults", "--", "true")
    assert r.returncode == 1
    assert "exec upgrade refused" in r.stderr
    fake_kube.server.faults.clear()
    fake_kube.server.slow_exec(1.0)
    started = time.monotonic()
    r = fake_kube.kubectl("-n", "gc", "exec", "exec-faults", "--", "true")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started >= 1.0
    fake_kube.kubectl("-n", "gc", "delete", "pod", "exec-faults", "--wait=false")


def test_denied_exec_is_a_forbidden_error_and_can_i_says_no(fake_kube: FakeKubeEnv) -> None:
    running_pod(fake_kube, "rbac", command="sleep infinity")
    fake_kube.server.deny("create", "pods/exec", namespace="gc")
    r = fake_kube.kubectl("-n", "gc", "auth", "can-i", "create", "pods", "--subresource=exec")
    assert r.returncode == 1 and r.stdout.strip() == "no"
    r = fake_kube.kubectl("-n", "gc", "auth", "can-i", "delete", "pods")
    assert r.returncode == 0 and r.stdout.strip() == "yes"
    r = fake_kube.kubectl("-n", "gc", "exec", "rbac", "--", "true")
    assert r.returncode == 1
    assert 'cannot create resource "pods/exec"' in r.stderr, r.stderr
    fake_kube.server.faults.clear()
    fake_kube.kubectl("-n", "gc", "delete", "pod", "rbac", "--wait=false")


def test_container_exit_fault_fails_the_pod_with_that_code(fake_kube: FakeKubeEnv) -> None:
    running_pod(fake_kube, "dies", command="sleep infinity")
    fake_kube.server.exit_container("gc", "dies", 3)
    pod = fake_kube.server.wait_pod("gc", "dies", "Failed")
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 3 and state["reason"] == "Error"
    r = fake_kube.kubectl("-n", "gc", "exec", "dies", "--", "true")
    assert r.returncode == 1 and "completed pod" in r.stderr
    fake_kube.kubectl("-n", "gc", "delete", "pod", "dies")


def test_eviction_marks_the_pod_failed_evicted(fake_kube: FakeKubeEnv) -> None:
    running_pod(fake_kube, "evicted", command="sleep infinity")
    fake_kube.server.evict("gc", "evicted")
    pod = fake_kube.server.wait_pod("gc", "evicted", "Failed")
    assert pod["status"]["reason"] == "Evicted"
    r = fake_kube.kubectl("-n", "gc", "get", "pod", "evicted")
    assert "Evicted" in r.stdout
    fake_kube.kubectl("-n", "gc", "delete", "pod", "evicted")


def test_http_control_endpoints_arm_faults_and_count_requests(fake_kube: FakeKubeEnv) -> None:
    ns = fake_kube.namespace()
    made = _control(fake_kube, "POST", "/_fake/faults",
                    {"kind": "error", "method": "GET", "path": "/api/v1/namespaces/gc/pods",
                     "status": 500, "times": 1})
    assert made[0]["id"] > 0
    r = fake_kube.kubectl("-n", ns, "get", "pods", "-o", "json")
    assert r.returncode == 1
    assert _control(fake_kube, "GET", "/_fake/faults") == []
    _control(fake_kube, "POST", "/_fake/faults", {"kind": "pending", "pod": "ctl-.*"})
    apply(fake_kube, agent_pod("ctl-held"))
    time.sleep(0.3)
    assert fake_kube.server.pod(ns, "ctl-held")["status"]["phase"] == "Pending"  # type: ignore[index]
    _control(fake_kube, "POST", "/_fake/pods/gc/ctl-held/release", {})
    fake_kube.server.wait_pod(ns, "ctl-held")
    _control(fake_kube, "POST", "/_fake/pods/gc/ctl-held/exit", {"code": 9})
    wait_until(lambda: (fake_kube.server.pod(ns, "ctl-held") or {})["status"]["phase"] == "Failed")
    _control(fake_kube, "DELETE", "/_fake/faults")
    log = _control(fake_kube, "GET", "/_fake/requests")
    assert any(q["method"] == "POST" and q["path"] == "/api/v1/namespaces/gc/pods" for q in log)
    assert not any(q["path"].startswith("/_fake") for q in log)
    with pytest.raises(urllib.error.HTTPError) as err:
        _control(fake_kube, "POST", "/_fake/faults", {"kind": "bogus"})
    assert err.value.code == 400
    fake_kube.kubectl("-n", ns, "delete", "pod", "ctl-held")


class BodyCase(NamedTuple):
    test_id: str
    arm: str  # what refuses the first request before its handler reads the body
    path: str


BODY_CASES = [
    BodyCase("deny", "deny", "/api/v1/namespaces/default/configmaps"),
    BodyCase("error-fault", "error", "/api/v1/namespaces/default/configmaps"),
    BodyCase("unknown-path", "", "/api/v1/namespaces/default/frobs"),
    BodyCase("deny-a-body-over-the-limit", "deny", "/api/v1/namespaces/default/configmaps"),
]


@pytest.mark.parametrize("case", BODY_CASES, ids=[c.test_id for c in BODY_CASES])
def test_refused_request_body_does_not_poison_the_keep_alive_connection(
        fake_kube: FakeKubeEnv, case: BodyCase) -> None:
    """A request answered without its body being read (a deny fault, an injected error, an
    unknown path) must still consume it: left in the socket, its bytes are parsed as the next
    request on the connection, which then fails with 400."""
    import http.client

    if case.arm == "deny":
        fake_kube.server.deny("create", "configmaps", namespace="default", times=1)
    elif case.arm == "error":
        fake_kube.server.fail("POST", path=case.path, status=500, times=1)
    size = 4 << 20 if "over-the-limit" in case.test_id else 5000
    body = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept-alive"},
                         "data": {"k": "v" * size}})
    conn = http.client.HTTPConnection("127.0.0.1", fake_kube.server.port, timeout=30)
    try:
        conn.request("POST", case.path, body=body,
                     headers={"Content-Type": "application/json", **fake_kube.auth})
        first = conn.getresponse()
        first.read()
        assert first.status in (403, 404, 500)
        conn.request("GET", "/api/v1/namespaces/default", headers=fake_kube.auth)  # the same one
        second = conn.getresponse()
        assert second.status == 200, second.read()
        assert orjson.loads(second.read())["metadata"]["name"] == "default"
    finally:
        conn.close()
