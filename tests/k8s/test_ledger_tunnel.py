"""The ledger tunnel (env.ledger): a request from inside the pod reaches a server on the
controller's loopback over the session's exec, on the offline server; nothing else does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import orjson
import pytest
from helpers import box_tools, wait_for
from k8s_helpers import K8s
from ledger_helpers import FETCH, MANY, PROXY, forwarders, serving, shell_quote, tunnel_processes

from gc_session_k8s import ledger, naming
from protocol.errors import ProviderError
from providers.kube.settings import KubeSettings

LEDGER = {"GC_K8S_LEDGER": "1"}
BOX_TOOLS = box_tools()  # where a pod's user can run them
ANSWER = b'{"ready":[]}'


def test_the_handshake_declares_env_ledger_only_when_the_operator_turns_the_tunnel_on(
        k8s: K8s) -> None:
    assert "env.ledger" not in orjson.loads(k8s.ok("protocol"))["capabilities"]
    assert "env.ledger" in orjson.loads(k8s.ok("protocol", env=LEDGER))["capabilities"]


def test_a_request_from_inside_the_pod_reaches_the_controller_loopback_server(k8s: K8s) -> None:
    name = k8s.name("ledger")
    with serving(ANSWER) as api:
        res = k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}},
                        env=LEDGER)
        assert res.rc == 0, res.err
        # the test pods have no bd on their PATH: start says so (the env probe would fail)
        assert "no bd on the pod's PATH" in res.err
        pod_url = k8s.ok("exec", name, stdin="printf %s \"$GC_BEADS_API\"")
        assert pod_url.startswith("http://127.0.0.1:") and pod_url != api.url
        out = k8s.ok("exec", name, stdin=shell_quote("python3", "-c", FETCH, "/v0/beads/ready"))
        assert out == '200 {"ready":[]}'
        assert api.paths == ["/v0/beads/ready"]


def test_many_connections_at_once_each_get_their_answer(k8s: K8s) -> None:
    name = k8s.name("ledger")
    with serving(ANSWER) as api:
        assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}},
                         env=LEDGER).rc == 0
        assert k8s.ok("exec", name, stdin=shell_quote("python3", "-c", MANY, "20")) == "20"
        assert api.paths.count("/v0/beads/ready") == 20


def test_a_request_naming_another_controller_server_reaches_only_the_beads_api(
        k8s: K8s) -> None:
    name = k8s.name("ledger")
    with serving(ANSWER) as api, serving(b"secret") as other:
        assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}},
                         env=LEDGER).rc == 0
        out = k8s.ok("exec", name, stdin=shell_quote("python3", "-c", PROXY, str(other.port)))
        assert out.startswith("HTTP/1.0 404")  # the beads API's answer to a path it lacks
        assert other.connections == 0 and other.paths == []
        assert api.paths == [f"http://127.0.0.1:{other.port}/secret"]


def pod_port(k8s: K8s, name: str) -> int:
    url = k8s.ok("exec", name, stdin="printf %s \"$GC_BEADS_API\"")
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def test_stop_ends_the_tunnel_and_leaves_no_process(k8s: K8s) -> None:
    name = k8s.name("ledger")
    with serving(ANSWER) as api:
        assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}},
                         env=LEDGER).rc == 0
        port = pod_port(k8s, name)
        assert len(forwarders(name)) == 1
        assert len(tunnel_processes(name, port)) >= 3  # forwarder, kubectl, pod side
        assert k8s.run("stop", name).rc == 0
        assert tunnel_processes(name, port) == []
    assert list(Path(k8s.env["GC_K8S_RUNTIME_DIR"], "ledger").iterdir()) == []  # record, log


def test_a_pod_deleted_behind_the_provider_ends_its_forwarder(k8s: K8s) -> None:
    name = k8s.name("ledger")
    with serving(ANSWER) as api:
        assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}},
                         env=LEDGER).rc == 0
        port = pod_port(k8s, name)
        pod = naming.session_pod(name, "")
        assert k8s.kubectl("delete", "pod", pod, "--wait=true").returncode == 0
        assert wait_for(lambda: tunnel_processes(name, port) == [], timeout=60)


def test_a_carrier_that_drops_while_the_pod_lives_is_opened_again(k8s: K8s) -> None:
    name = k8s.name("ledger")
    with serving(ANSWER) as api:
        assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}},
                         env=LEDGER).rc == 0
        port = pod_port(k8s, name)
        before = set(tunnel_processes(name, port))
        forwarder = set(forwarders(name))
        for pid in before - forwarder:  # the exec (kubectl and the pod side) drops
            os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: len(set(tunnel_processes(name, port)) - before) >= 2, timeout=60)
        fetch = shell_quote("python3", "-c", FETCH, "/v0/beads/ready")
        assert wait_for(lambda: k8s.run("exec", name, stdin=fetch).out.strip()
                        == '200 {"ready":[]}', timeout=60)
        assert set(forwarders(name)) == forwarder


def test_a_start_without_the_setting_passes_the_url_through_and_opens_no_tunnel(
        k8s: K8s) -> None:
    name = k8s.name("ledger")
    url = "http://127.0.0.1:9/api"
    assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": url}}).rc == 0
    assert k8s.ok("exec", name, stdin="printf %s \"$GC_BEADS_API\"") == url
    assert forwarders(name) == []


def test_a_url_off_the_loopback_is_never_tunnelled(k8s: K8s) -> None:
    name = k8s.name("ledger")
    url = "http://beads.example:8080/api"
    assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": url}},
                     env=LEDGER).rc == 0
    assert k8s.ok("exec", name, stdin="printf %s \"$GC_BEADS_API\"") == url
    assert forwarders(name) == []


def test_bd_ready_in_the_box_reaches_the_beads_api_as_the_env_probe_runs_it(k8s: K8s) -> None:
    """`gc runtime conformance --env`'s env.ledger probe: `bd ready` through exec, exit 0
    (the stand-in bd of tests/doubles, which reads GC_BEADS_API as a conformant one does)."""
    name = k8s.name("ledger")
    with serving(ANSWER) as api:
        assert k8s.start(name, {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}},
                         env=LEDGER).rc == 0
        res = k8s.run("exec", name, stdin=f"PATH={BOX_TOOLS}:$PATH bd ready")
        assert (res.rc, res.out.strip()) == (0, "[]"), res.err
        assert api.paths == ["/v0/beads/ready"]


def test_a_tunnel_that_cannot_come_up_fails_with_the_reason_and_leaves_nothing(
        k8s: K8s) -> None:
    """No pod (or no python3 in it): the forwarder reports why, start would fail with it,
    and no forwarder is left behind."""
    name = k8s.name("ledger")
    env = {**k8s.env, **LEDGER}
    tunnel = ledger.Tunnel("127.0.0.1", 9, ledger.free_port(), "http://127.0.0.1:1/")
    with pytest.raises(ProviderError, match=r"ledger tunnel into pod no-such-pod: .*not ?found"):
        ledger.open_tunnel(env, KubeSettings.from_env(env), "no-such-pod", name, "id", tunnel)
    assert wait_for(lambda: forwarders(name) == [])  # it told why, then exits on its own


def test_provision_opens_the_tunnel_too(k8s: K8s) -> None:
    """The box without the agent is the box: gc launches the agent later, bd works now."""
    name = k8s.name("ledger")
    k8s.started.append(name)
    with serving(ANSWER) as api:
        cfg = {"command": "sleep 300", "env": {"GC_BEADS_API": api.url}}
        res = k8s.run("provision", name, stdin=orjson.dumps(cfg), timeout=90, env=LEDGER)
        assert res.rc == 0, res.err
        out = k8s.ok("exec", name, stdin=shell_quote("python3", "-c", FETCH, "/v0/beads/ready"))
        assert out == '200 {"ready":[]}'


def test_the_kits_env_ledger_probe_passes_through_the_tunnel(
        k8s: K8s, monkeypatch: pytest.MonkeyPatch) -> None:
    """`gc runtime conformance --env`'s ENV-LEDGER as the kit runs it: bd ready (the stand-in,
    put on the test pods' PATH here) reaches the kit's loopback beads API from the pod."""
    from protocol.conformance.fakekube.backends import local

    monkeypatch.setattr(local, "DEFAULT_PATH", f"{BOX_TOOLS}:{local.DEFAULT_PATH}")
    exe = shutil.which("gc-provider-conformance", path=sysconfig.get_path("scripts"))
    argv = [exe] if exe else [sys.executable, "-m", "protocol.conformance"]
    res = subprocess.run([*argv, k8s.argv[-1], "--only", "env"], env={**k8s.env, **LEDGER},
                         capture_output=True, text=True, timeout=600, check=False)
    assert any(x.startswith("PASS ENV-LEDGER ") for x in res.stdout.splitlines()), (
        res.stdout + res.stderr)
