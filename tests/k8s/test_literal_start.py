"""Caller strings reach the pod's tmux literally, and an environment the kernel cannot exec
with is refused before any pod exists."""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path

import pytest
from helpers import wait_for
from k8s_helpers import K8s


def in_pod(k8s: K8s, name: str, command: str) -> str:
    res = k8s.run("exec", name, stdin=command)
    assert res.rc == 0, res
    return res.out


@pytest.mark.parametrize("component", ["rig#[x", "a##[b]", "#{pane_pid}", "~x", "$HOME"])
def test_a_work_dir_tmux_would_expand_is_the_panes_working_directory(
    k8s: K8s, tmp_path: Path, component: str
) -> None:
    city = tmp_path / "city"
    work_dir = city / component
    work_dir.mkdir(parents=True)
    name = k8s.name("lit")
    res = k8s.start(name, {"command": "sleep 300", "work_dir": str(work_dir),
                           "env": {"GC_CITY": str(city)}})
    assert res.rc == 0, res.err
    cwd = in_pod(k8s, name, 'readlink "/proc/$(tmux display-message -p -t main: '
                            '"#{pane_pid}")/cwd"; printf %s "$GC_DIR"')
    pane_cwd, _, gc_dir = cwd.partition("\n")
    assert pane_cwd == gc_dir and pane_cwd.endswith("/" + component), cwd


def test_a_128_kib_env_entry_is_refused_with_one_line_and_no_pod(k8s: K8s) -> None:
    name = k8s.name("env")
    res = k8s.start(name, {"command": "sleep 300", "env": {"GC_BIG": "x" * (128 * 1024)}})
    assert res.rc == 1, res
    assert res.err.count("\n") == 1 and "KiB" in res.err, res.err
    assert wait_for(lambda: not [p for p in k8s.pods() if (p["metadata"].get("annotations") or {})
                                 .get("gc-session-name") == name])


#: A file only a format that ran a command (``#(…)``) would create; unique to this run.
PWNED = f"/tmp/gc-pwned-{uuid.uuid4().hex[:12]}"
#: What tmux would expand or end a command at, as in tests/tmux/test_tmux_literal_fields.py.
TRICKY = ["#[", "a#[b", "##[x]", "#{pane_pid}", "##", f"#(touch {PWNED})", "~", "$HOME",
          "~root", "x;", ";", "\\;", "#{l:#[}", "'", '"', "é☃ #{?x,y,z}"]


def typed_more_than(k8s: K8s, name: str, lines: int) -> bool:
    return len(in_pod(k8s, name, "cat /tmp/typed").splitlines()) > lines


def test_env_meta_and_nudge_reach_the_pods_tmux_literally(k8s: K8s) -> None:
    name = k8s.name("lit")
    env = {f"GC_LIT_{i}": value for i, value in enumerate(TRICKY)}
    res = k8s.start(name, {"command": "stty -echo; exec cat > /tmp/typed", "env": env})
    assert res.rc == 0, res.err
    environ = in_pod(k8s, name, 'tr "\\0" "\\n" < "/proc/$(tmux display-message -p -t main: '
                                '"#{pane_pid}")/environ"')
    for key, value in env.items():
        assert f"{key}={value}" in environ.splitlines(), key
    for i, value in enumerate(TRICKY):
        k8s.ok("set-meta", name, f"K{i}", stdin=value.encode())
        assert k8s.run("get-meta", name, f"K{i}").out in (value, value + "\n")
        k8s.ok("nudge", name, stdin=value.encode())
        assert wait_for(partial(typed_more_than, k8s, name, i), timeout=30)
    assert in_pod(k8s, name, "cat /tmp/typed").splitlines() == TRICKY
    assert in_pod(k8s, name, f"ls {PWNED} 2>&1 || true").startswith("ls:")
