"""Pod lifecycle on the local backend: phases follow the real processes, graceful
deletion, init containers, isolation between pods, and the runnable server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest
from fakekube_manifests import agent_pod, apply, running_pod, wait_until

from protocol.conformance.fakekube.fixtures import FakeKubeEnv, find_kubectl
from protocol.conformance.fakekube.selectors import parse_field_selector, parse_label_selector


class ExitCase(NamedTuple):
    command: str
    phase: str
    exit_code: int


@pytest.mark.parametrize("case", [
    ExitCase("exit 0", "Succeeded", 0),
    ExitCase("exit 2", "Failed", 2),
], ids=lambda c: c.phase)
def test_main_container_exit_ends_the_pod(fake_kube: FakeKubeEnv, case: ExitCase) -> None:
    name = f"ends-{case.exit_code}"
    fake_kube.namespace()
    apply(fake_kube, agent_pod(name, command=case.command))
    pod = fake_kube.server.wait_pod("gc", name, case.phase)
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == case.exit_code
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"]
    assert ready == "False"
    r = fake_kube.kubectl("-n", "gc", "delete", "pod", name)
    assert r.returncode == 0 and fake_kube.server.pod("gc", name) is None


def test_graceful_delete_terms_then_kills_after_the_grace_period(fake_kube: FakeKubeEnv) -> None:
    # Ignores SIGTERM: the pod lives until the SIGKILL at the end of its 2 s grace.
    running_pod(fake_kube, "stubborn", command="trap '' TERM; while :; do sleep 0.1; done", grace=2)
    # Exits on SIGTERM at once.
    running_pod(fake_kube, "polite", command="sleep infinity", grace=30)
    started = time.monotonic()
    fake_kube.server.kubelet.delete_pod("gc", "polite", None)
    fake_kube.server.kubelet.delete_pod("gc", "stubborn", None)
    terminating = fake_kube.server.pod("gc", "stubborn")
    assert terminating is not None and terminating["metadata"]["deletionGracePeriodSeconds"] == 2
    wait_until(lambda: fake_kube.server.pod("gc", "polite") is None, 10, "polite pod gone")
    assert time.monotonic() - started < 1.5
    assert fake_kube.server.pod("gc", "stubborn") is not None
    wait_until(lambda: fake_kube.server.pod("gc", "stubborn") is None, 10, "stubborn pod gone")
    assert time.monotonic() - started >= 1.9


def test_init_container_holds_pod_pending_until_it_completes(fake_kube: FakeKubeEnv) -> None:
    fake_kube.namespace()
    apply(fake_kube, agent_pod("staged", command="cat /workspace/.gc-ready; sleep infinity",
                               init_command="while [ ! -f /workspace/.gc-ready ]; do sleep 0.1; done"))
    wait_until(lambda: (fake_kube.server.pod("gc", "staged") or {}).get("status", {}).get(
        "initContainerStatuses", [{}])[0].get("state", {}).get("running") is not None)
    pod = fake_kube.server.pod("gc", "staged")
    assert pod is not None and pod["status"]["phase"] == "Pending"
    # The controller stages the workspace through the running init container.
    r = fake_kube.kubectl("-n", "gc", "exec", "staged", "-c", "stage", "--", "sh", "-c",
                          "echo staged > /workspace/.gc-ready")
    assert r.returncode == 0, r.stderr
    pod = fake_kube.server.wait_pod("gc", "staged", "Running")
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    wait_until(lambda: "staged" in fake_kube.kubectl("-n", "gc", "logs", "staged").stdout)
    fake_kube.kubectl("-n", "gc", "delete", "pod", "staged", "--wait=false")


def test_pods_are_isolated_from_each_other_and_the_host(fake_kube: FakeKubeEnv) -> None:
    if not getattr(fake_kube.server.backend, "use_namespaces", False):
        pytest.skip("local backend without namespaces (not root or unshare refused)")
    for name in ("iso-a", "iso-b"):
        running_pod(fake_kube, name, command="tmux new-session -d -s main 'sleep 1000' && sleep infinity")
    wait_until(lambda: fake_kube.kubectl("-n", "gc", "exec", "iso-a", "--", "tmux", "has-session",
                                         "-t", "main").returncode == 0)
    r = fake_kube.kubectl("-n", "gc", "exec", "iso-a", "--", "sh", "-c",
                          "tmux kill-server; echo mine > /workspace/f; hostname; ps -e -o comm=")
    assert r.stdout.split("\n")[0] == "iso-a"
    # Only the pod's own processes: PID 1 (pod_init, a python3), shell, sleep, ps, tmux.
    assert set(r.stdout.split("\n")[1:]) - {""} <= {"python3", "sh", "sleep", "ps", "tmux: server", "utempter"}
    # iso-b's default tmux server and workspace are untouched by iso-a.
    r = fake_kube.kubectl("-n", "gc", "exec", "iso-b", "--", "sh", "-c",
                          "tmux has-session -t main && test ! -e /workspace/f && echo ok")
    assert r.stdout.strip() == "ok", r.stderr
    # A pod does not see the host's /tmp.
    marker = Path("/tmp") / f"fakekube-host-marker-{os.getpid()}"
    marker.write_text("host")
    try:
        r = fake_kube.kubectl("-n", "gc", "exec", "iso-b", "--", "test", "-e", str(marker))
        assert r.returncode == 1
    finally:
        marker.unlink()
    for name in ("iso-a", "iso-b"):
        fake_kube.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


class LabelCase(NamedTuple):
    selector: str
    labels: dict[str, str]
    matches: bool


@pytest.mark.parametrize("case", [
    LabelCase("app=x", {"app": "x"}, True),
    LabelCase("app==x", {"app": "y"}, False),
    LabelCase("app!=x", {}, True),
    LabelCase("app in (x, y),tier", {"app": "y", "tier": "1"}, True),
    LabelCase("app notin (x,y)", {"app": "y"}, False),
    LabelCase("!tier", {"app": "y"}, True),
    LabelCase("tier", {"app": "y"}, False),
    LabelCase("gc-session=a1,app=gc-agent", {"gc-session": "a1", "app": "gc-agent"}, True),
])
def test_label_selectors_match_like_the_api_server(case: LabelCase) -> None:
    assert parse_label_selector(case.selector)(case.labels) is case.matches


def test_field_selectors_on_name_and_phase() -> None:
    pod = {"metadata": {"name": "a"}, "status": {"phase": "Running"}}
    assert parse_field_selector("metadata.name=a,status.phase=Running")(pod)
    assert not parse_field_selector("status.phase!=Running")(pod)


def test_watch_resumes_from_a_resource_version_and_sends_bookmarks(fake_kube: FakeKubeEnv) -> None:
    import urllib.request

    ns = fake_kube.namespace("watch-ns")
    url = f"{fake_kube.url}/api/v1/namespaces/{ns}/pods"
    with urllib.request.urlopen(urllib.request.Request(url, headers=fake_kube.auth),
                                timeout=5) as resp:
        rv = orjson.loads(resp.read())["metadata"]["resourceVersion"]
    fake_kube.server.hold_pending("w1")
    apply(fake_kube, agent_pod("w1", ns))
    q = f"?watch=true&resourceVersion={rv}&timeoutSeconds=1&allowWatchBookmarks=true"
    with urllib.request.urlopen(urllib.request.Request(url + q, headers=fake_kube.auth),
                                timeout=10) as resp:
        events = [orjson.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "w1"
    q = "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    with urllib.request.urlopen(urllib.request.Request(url + q, headers=fake_kube.auth),
                                timeout=10) as resp:
        events = [orjson.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    fake_kube.server.kubelet.delete_pod(ns, "w1", 0)


def test_server_module_runs_standalone_and_cleans_up(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [sys.executable, "-m", "protocol.conformance.fakekube", "--kubeconfig", str(kubeconfig),
         "--create-namespace", "gc"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert proc.stdout.readline().strip() == str(kubeconfig)
        kubectl = find_kubectl("1.32")
        if kubectl is None:
            pytest.skip("no kubectl")
        env = dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(tmp_path))
        pod = orjson.dumps(agent_pod("standalone", command="sleep infinity")).decode()
        r = subprocess.run([kubectl, "apply", "-f", "-"], input=pod, env=env,
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([kubectl, "-n", "gc", "wait", "--for=condition=Ready", "pod/standalone"],
                           env=env, capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([kubectl, "-n", "gc", "exec", "standalone", "--", "cat", "/proc/1/cmdline"],
                           env=env, capture_output=True, text=True, check=False)
        root = r.stdout.split("bind\0")[1].split("/pods/")[0] if "bind" in r.stdout else ""
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    if root:
        assert not os.path.exists(root)


def test_plain_process_fallback_gives_each_pod_its_own_tmux_and_home() -> None:
    from protocol.conformance.fakekube.server import FakeKube

    with FakeKube("local", use_namespaces=False) as kube:
        kube.create_namespace("gc")
        for name in ("fb-a", "fb-b"):
            pod = agent_pod(name, command="tmux new-session -d -s main 'sleep 1000' && sleep infinity")
            kube.kubelet.pod_created(kube.store.create("pods", "gc", _defaulted(pod)))
            kube.wait_pod("gc", name)
        runner = kube.kubelet.runner("gc", "fb-a")
        sandbox, run = runner.exec_target(None)
        out = subprocess.run(sandbox.exec_argv(run, ["sh", "-c", "echo $HOME $TMUX_TMPDIR; pwd"],
                                               tty=False, stdin=False),
                             capture_output=True, text=True, check=False).stdout
        home, tmux_dir, cwd = out.split()
        assert home.startswith(kube.root_dir) and tmux_dir.startswith(kube.root_dir)
        assert cwd.startswith(kube.root_dir) and cwd.endswith("/volumes/ws")
        wait_until(lambda: subprocess.run(
            sandbox.exec_argv(run, ["tmux", "has-session", "-t", "main"], tty=False, stdin=False),
            check=False).returncode == 0)
        kube.reset()
        wait_until(lambda: kube.store.list("pods", None) == [])
        assert kube.store.find("namespaces", "", "gc") is None


def _defaulted(pod: dict[str, Any]) -> dict[str, Any]:
    from protocol.conformance.fakekube.pods import apply_defaults

    apply_defaults(pod)
    return pod


def test_pod_mountpoints_and_work_dirs_the_host_lacks_are_made_in_the_pod_not_on_the_host(
    fake_kube: FakeKubeEnv,
) -> None:
    """Another server's pods, or the host itself, never see (or lose) a pod's mountpoints."""
    if not getattr(fake_kube.server.backend, "use_namespaces", False):
        pytest.skip("local backend without namespaces (not root or unshare refused)")
    tag = f"gc-fake-{os.getpid()}-{time.monotonic_ns()}"
    top, nested, work = f"/{tag}/ws", f"/opt/{tag}/cache", f"/{tag}/ws/rig/sub"
    pod = agent_pod("no-trace", command="sleep infinity")
    container = pod["spec"]["containers"][0]
    container["workingDir"] = work
    container["volumeMounts"] = [{"name": "ws", "mountPath": top},
                                 {"name": "cache", "mountPath": nested}]
    pod["spec"]["volumes"].append({"name": "cache", "emptyDir": {}})
    fake_kube.namespace()
    apply(fake_kube, pod)
    fake_kube.server.wait_pod("gc", "no-trace", "Running")
    r = fake_kube.kubectl("-n", "gc", "exec", "no-trace", "--", "sh", "-c",
                          f"pwd; echo x > {nested}/f; ls /usr/bin/env; test -d /opt && echo opt")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [work, "/usr/bin/env", "opt"]
    assert not os.path.exists(f"/{tag}") and not os.path.exists(f"/opt/{tag}")
    fake_kube.kubectl("-n", "gc", "delete", "pod", "no-trace")
    assert not os.path.exists(f"/{tag}") and not os.path.exists(f"/opt/{tag}")
