"""The session lifecycle through the real kubectl against the offline API server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import wait_for
from k8s_helpers import K8s


def test_start_makes_a_running_session_and_stop_ends_it(k8s: K8s) -> None:
    name = k8s.name()
    res = k8s.start(name)
    assert res.rc == 0, res.err
    assert k8s.ok("is-running", name) == "true"
    assert name in k8s.ok("list-running", "").split("\n")
    k8s.ok("stop", name)
    assert k8s.ok("is-running", name) == "false"
    assert name not in k8s.ok("list-running", "").split("\n")
    assert k8s.pod(name) is None


def test_a_kubeconfig_list_is_merged_as_kubectl_merges_it(k8s: K8s, tmp_path: Path) -> None:
    # The client (start, stop) must read KUBECONFIG=a:b as kubectl does, not just `a`.
    other = tmp_path / "other.kubeconfig"
    other.write_text('{"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [],'
                     ' "users": []}')
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{other}:{k8s.env['KUBECONFIG']}"}
    name = k8s.name()
    res = k8s.start(name, env=env)
    assert res.rc == 0, res.err
    assert k8s.ok("is-running", name, env=env) == "true"
    k8s.ok("stop", name, env=env)
    assert k8s.pod(name) is None


def test_duplicate_start_fails_with_already_exists(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    again = k8s.start(name)
    assert again.rc == 1
    assert "already exists" in again.err
    assert k8s.ok("is-running", name) == "true"


def test_stop_is_idempotent_and_fast(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    t0 = time.monotonic()
    k8s.ok("stop", name)
    assert time.monotonic() - t0 < 2.0
    k8s.ok("stop", name)
    k8s.ok("stop", "never-started-session")


def test_unknown_session_is_not_running_and_best_effort_ops_exit_0(k8s: K8s) -> None:
    ghost = "unknown-session-never-existed"
    assert k8s.ok("is-running", ghost) == "false"
    assert k8s.ok("process-alive", ghost, stdin="sleep") == "false"
    assert k8s.ok("get-meta", ghost, "k") == ""
    assert k8s.ok("get-last-activity", ghost) == ""
    for op in (("interrupt", ghost), ("send-keys", ghost, "Enter"), ("clear-scrollback", ghost),
               ("copy-to", ghost, "/etc/hostname", "")):
        assert k8s.run(*op).rc == 0, op
    assert k8s.run("nudge", ghost, stdin="hello").rc == 0


def test_meta_round_trips_and_start_env_is_readable(k8s: K8s) -> None:
    name = k8s.name()
    cfg = {"command": "sleep 300",
           "env": {"GC_SESSION_ID": "sess-1", "GC_INSTANCE_TOKEN": "tok-1", "GC_ALIAS": ""}}
    assert k8s.start(name, cfg).rc == 0
    assert k8s.ok("get-meta", name, "GC_SESSION_ID") == "sess-1"
    assert k8s.ok("get-meta", name, "GC_INSTANCE_TOKEN") == "tok-1"
    assert k8s.ok("get-meta", name, "GC_ALIAS") == ""
    k8s.ok("set-meta", name, "key", stdin="v1")
    k8s.ok("set-meta", name, "key", stdin="  two words \n")
    assert k8s.ok("get-meta", name, "key") == "  two words "
    k8s.ok("remove-meta", name, "key")
    assert k8s.ok("get-meta", name, "key") == ""
    assert k8s.ok("get-meta", name, "nonexistent-key") == ""


def test_peek_activity_and_process_alive_follow_the_pane(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sh -c 'echo hello-from-pod; exec sleep 300'"}).rc == 0
    assert wait_for(lambda: "hello-from-pod" in k8s.ok("peek", name, "10"))
    stamp = k8s.ok("get-last-activity", name)
    assert stamp.endswith("Z") and "T" in stamp
    assert k8s.ok("process-alive", name, stdin="claude\nsleep") == "true"
    # The tmux server's argv contains the command; only the pane tree counts (G-14).
    assert k8s.ok("process-alive", name, stdin="claude\nnode") == "false"
    assert k8s.ok("process-alive", name, stdin="echo") == "false"
    k8s.ok("clear-scrollback", name)


def test_nudge_is_literal_and_submitted(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "cat"}).rc == 0
    for message in ("Enter", "-x --flag", "C-c", "it's \"quoted\" $HOME `id`"):
        k8s.ok("nudge", name, stdin=message)

        def echoed(m: str = message) -> bool:  # typed once and echoed back by cat
            return k8s.ok("peek", name, "50").count(m) >= 2

        assert wait_for(echoed), message
    assert k8s.ok("is-running", name) == "true"


def test_send_keys_and_interrupt_reach_the_pane(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sh"}).rc == 0
    k8s.ok("send-keys", name, "e", "c", "h", "o", "Space", "k", "e", "y", "s", "Enter")
    assert wait_for(lambda: "keys" in k8s.ok("peek", name, "20").splitlines()[-2:][0]
                      or k8s.ok("peek", name, "20").count("keys") >= 2)
    k8s.ok("send-keys", name, "s", "l", "e", "e", "p", "Space", "9", "9", "Enter")
    assert wait_for(lambda: k8s.ok("process-alive", name, stdin="sleep") == "true")
    k8s.ok("interrupt", name)
    assert wait_for(lambda: k8s.ok("process-alive", name, stdin="sleep") == "false")


def test_a_command_that_exits_leaves_a_dead_pane_that_start_recycles(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sleep 0.2"}).rc == 0
    assert wait_for(lambda: k8s.ok("is-running", name) == "false")
    again = k8s.start(name)
    assert again.rc == 0, again.err
    assert k8s.ok("is-running", name) == "true"


def test_list_running_filters_by_prefix_and_returns_raw_names(k8s: K8s) -> None:
    a, b = k8s.name("lr_a"), k8s.name("lr-b")
    assert k8s.start(a).rc == 0
    assert k8s.start(b).rc == 0
    got = k8s.ok("list-running", a).split("\n")
    assert got == [a]
    assert {a, b} <= set(k8s.ok("list-running", "").split("\n"))


@pytest.mark.slow
def test_two_cities_in_one_namespace_never_collide(k8s: K8s) -> None:
    name = k8s.name()
    one, two = {"GC_K8S_CITY": "alpha"}, {"GC_K8S_CITY": "beta"}
    assert k8s.start(name, env=one).rc == 0
    assert k8s.start(name, env=two).rc == 0
    assert k8s.run("list-running", "", env=one).value == name
    assert k8s.run("list-running", "", env=two).value == name
    assert k8s.run("stop", name, env=one).rc == 0
    assert k8s.run("is-running", name, env=one).value == "false"
    assert k8s.run("is-running", name, env=two).value == "true"
    assert k8s.run("stop", name, env=two).rc == 0


@pytest.mark.parametrize("name", ["Mayor_1", "gastown__mayor"])
def test_lossy_names_get_distinct_collision_safe_pods(k8s: K8s, name: str) -> None:
    assert k8s.start(name).rc == 0
    assert k8s.ok("is-running", name) == "true"
    assert k8s.ok("list-running", name) == name
    pods = [p for p in k8s.pods() if p["metadata"]["annotations"]["gc-session-name"] == name]
    assert len(pods) == 1
    assert pods[0]["metadata"]["labels"]["gc-session"] == name
