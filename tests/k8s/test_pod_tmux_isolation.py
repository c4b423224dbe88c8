"""The shared tmux logic inside a pod: dead panes, ';' arguments, byte-exact values, no secrets in argv.

The same defects as the local provider's (tests/tmux/test_tmux_isolation.py),
through `PodRunner` and the offline API server.
"""

from __future__ import annotations

import subprocess

import pytest
from helpers import wait_for
from k8s_helpers import K8s

SECRET = "pod-secret-value-0f9e8d7c"


@pytest.fixture
def session(k8s: K8s) -> str:
    name = k8s.name()
    res = k8s.start(name, {"command": "sleep 300"})
    assert res.rc == 0, res.err
    k8s.ok("set-meta", name, "KEEP", stdin="kept;")
    return name


def test_a_nudge_to_an_exited_agent_leaves_the_pod_tmux_running(k8s: K8s, session: str) -> None:
    k8s.ok("interrupt", session)
    assert wait_for(lambda: k8s.ok("is-running", session) == "false", timeout=30)
    for op, stdin in (("nudge", "hi"), ("send-keys", ""), ("clear-scrollback", ""), ("peek", "")):
        args = {"send-keys": ["Enter"], "peek": ["5"]}.get(op, [])
        assert k8s.run(op, session, *args, stdin=stdin).rc == 0, op
    assert k8s.ok("get-meta", session, "KEEP") == "kept;"  # the server is still there


@pytest.mark.parametrize("keys", [["a;", "kill-server"], ["Enter;", "run-shell", "touch /tmp/injected"]],
                         ids=["kill-server", "run-shell"])
def test_a_key_ending_in_a_semicolon_runs_nothing_in_the_pod(k8s: K8s, session: str,
                                                            keys: list[str]) -> None:
    assert k8s.run("send-keys", session, *keys).rc in (0, 1)
    assert k8s.ok("is-running", session) == "true"
    assert k8s.ok("get-meta", session, "KEEP") == "kept;"
    assert k8s.ok("exec", session, stdin="test -e /tmp/injected && echo yes || echo no") == "no"


@pytest.mark.parametrize("value", [";", "abc;", "\\;", "x" * 100_000 + ";"],
                         ids=["semicolon", "trailing", "escaped", "100KB"])
def test_meta_values_round_trip_in_the_pod(k8s: K8s, session: str, value: str) -> None:
    k8s.ok("set-meta", session, "V", stdin=value)
    assert k8s.ok("get-meta", session, "V") == value


def test_secret_env_is_in_no_process_argv(k8s: K8s) -> None:
    name = k8s.name()
    res = k8s.start(name, {"command": "sleep 300", "env": {"ANTHROPIC_API_KEY": SECRET}})
    assert res.rc == 0, res.err
    assert k8s.ok("get-meta", name, "ANTHROPIC_API_KEY") == SECRET
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert SECRET not in ps.stdout
