"""A session acts only on its own pod: never on one another session's name maps to.

The reported case: `Mayor`'s pod is `mayor-e2001874`, itself a valid session name, and
`stop mayor-e2001874` stopped `Mayor`. Names that look hashed are hashed now, so such a
name has a pod of its own; and a pod that a name still reaches (a hash collision, which
a hostile caller can search for, or a pod made before the check) is refused by every op,
in the same exec: the pod's name annotation must be the session.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from typing import Any

import orjson
import pytest
from k8s_helpers import KUBECTL, NAMESPACE, K8s

from gc_session_k8s.naming import session_pod


def tmux_in(k8s: K8s, pod: str, *args: str) -> str:
    done = k8s.kubectl("exec", pod, "-c", "agent", "--", "tmux", "-u", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def foreign_pod(k8s: K8s, owner: str, pod: str, *, annotated: bool = True) -> None:
    """A live pod named ``pod`` whose annotation names ``owner`` (without the annotation's
    env copy when not ``annotated``: a pod made before the check), with tmux `main` and
    a stored value, as if ``owner`` ran there."""
    res = k8s.run("manifest", owner, stdin=b'{"command":"sleep 300"}')
    assert res.rc == 0, res.err
    manifest: dict[str, Any] = orjson.loads(res.out)
    manifest["metadata"]["name"] = pod
    if not annotated:
        agent = manifest["spec"]["containers"][0]
        agent["env"] = [e for e in agent["env"] if "valueFrom" not in e]
    made = subprocess.run([KUBECTL, "-n", NAMESPACE, "create", "-f", "-"], env=k8s.env,
                          input=orjson.dumps(manifest), capture_output=True, timeout=60,
                          check=False)
    assert made.returncode == 0, made.stderr
    k8s.server.wait_pod(NAMESPACE, pod, "Running", timeout=60)
    deadline = time.monotonic() + 30
    while k8s.kubectl("exec", pod, "-c", "agent", "--", "true").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    tmux_in(k8s, pod, "new-session", "-d", "-s", "main", "sleep 300")
    tmux_in(k8s, pod, "set-environment", "-t", "main", "K", "owner's")


def untouched(k8s: K8s, pod: str) -> None:
    assert k8s.pod(pod) is not None, "the pod was deleted"
    assert tmux_in(k8s, pod, "show-environment", "-t", "main", "K") == "K=owner's\n"
    assert "intruder" not in tmux_in(k8s, pod, "capture-pane", "-p", "-t", "main")
    assert tmux_in(k8s, pod, "list-panes", "-t", "main", "-F", "#{pane_dead}").strip() == "0"


def every_op_leaves_it_alone(k8s: K8s, intruder: str, pod: str, tmp: Any) -> None:
    """Each op of ``intruder`` reads the pod as missing: reads say so, best-effort writes
    exit 0 and writes exit 1 with one line, and nothing in the pod changes."""
    src = tmp / "planted"
    src.write_text("intruder")
    assert k8s.run("is-running", intruder).value == "false"
    assert k8s.run("process-alive", intruder, stdin=b"sleep").value == "false"
    assert k8s.run("is-attached", intruder).value == "false"
    assert k8s.ok("get-meta", intruder, "K") == ""
    assert k8s.ok("get-last-activity", intruder) == ""
    for op, args, stdin in [("nudge", (), b"intruder"), ("interrupt", (), b""),
                            ("send-keys", ("i", "n", "t", "r", "u", "d", "e", "r"), b""),
                            ("clear-scrollback", (), b""), ("remove-meta", ("K",), b""),
                            ("copy-to", (str(src), "planted"), b"")]:
        res = k8s.run(op, intruder, *args, stdin=stdin)
        assert res.rc == 0, (op, res)
    for op, args, stdin in [("set-meta", ("K",), b"intruder"), ("peek", ("5",), b""),
                            ("exec", (), b"echo intruder > /tmp/planted")]:
        res = k8s.run(op, intruder, *args, stdin=stdin)
        assert res.rc == 1, (op, res)
        assert len(res.err.strip().splitlines()) == 1, (op, res.err)
    assert k8s.run("stop", intruder).rc == 0
    assert intruder not in k8s.ok("list-running", "").splitlines()
    untouched(k8s, pod)
    planted = k8s.kubectl("exec", pod, "-c", "agent", "--", "sh", "-c",
                          "ls /tmp/planted /workspace/planted 2>/dev/null; true")
    assert planted.stdout == ""


def test_a_session_named_like_anothers_pod_never_reaches_it(k8s: K8s) -> None:
    owner = f"Mayor{uuid.uuid4().hex[:6]}"
    assert k8s.start(owner).rc == 0
    pod = session_pod(owner)
    assert pod != owner.lower()  # hashed: the name is lossy
    k8s.started.append(pod)
    assert session_pod(pod) != pod
    assert k8s.ok("is-running", pod) == "false"
    assert k8s.run("stop", pod).rc == 0
    assert k8s.run("set-meta", pod, "GC_X", stdin=b"overwritten").rc == 1
    assert k8s.ok("is-running", owner) == "true"
    assert k8s.ok("get-meta", owner, "GC_X") == ""
    assert k8s.pod(pod) is not None


@pytest.mark.parametrize("transport", ["kubectl", "direct"])
def test_every_op_of_a_colliding_name_leaves_the_pod_alone(
        k8s: K8s, tmp_path: Any, transport: str) -> None:
    k8s.env["GC_K8S_TRANSPORT"] = transport
    intruder = k8s.name("intruder")
    pod = session_pod(intruder)  # as if another name's hash collided with it
    foreign_pod(k8s, k8s.name("owner"), pod)
    every_op_leaves_it_alone(k8s, intruder, pod, tmp_path)


def test_hot_reads_through_the_helper_refuse_a_colliding_pod(
        k8s: K8s, helper: dict[str, str], tmp_path: Any) -> None:
    intruder = k8s.name("intruder")
    pod = session_pod(intruder)
    foreign_pod(k8s, k8s.name("owner"), pod)
    for _ in range(2):  # the second round may come from what the helper kept
        assert k8s.run("is-running", intruder).value == "false"
        assert k8s.run("process-alive", intruder, stdin=b"sleep").value == "false"
        assert k8s.ok("get-meta", intruder, "K") == ""
        assert k8s.run("peek", intruder, "5").rc == 1
    untouched(k8s, pod)


def test_a_pod_without_the_annotations_env_copy_is_not_the_sessions(
        k8s: K8s, tmp_path: Any) -> None:
    """A pod that cannot prove it is the session's (made before the check) is left alone
    by every op but stop (which reads the annotation from the API) and start."""
    name = k8s.name("legacy")
    pod = session_pod(name)
    foreign_pod(k8s, name, pod, annotated=False)
    assert k8s.ok("is-running", name) == "false"
    assert k8s.run("set-meta", name, "K", stdin=b"x").rc == 1
    untouched(k8s, pod)
    assert k8s.run("stop", name).rc == 0
    assert k8s.pod(pod) is None  # its annotation is this session: stop may delete it


def test_stop_deletes_only_the_pod_annotated_as_the_session(k8s: K8s, tmp_path: Any) -> None:
    intruder = k8s.name("intruder")
    pod = session_pod(intruder)
    foreign_pod(k8s, k8s.name("owner"), pod, annotated=False)  # no session-key label either
    res = k8s.run("stop", intruder)
    assert res.rc == 0
    assert "belongs to session" in res.err
    untouched(k8s, pod)


def test_start_of_a_colliding_name_refuses_and_leaves_the_pod(k8s: K8s) -> None:
    intruder = k8s.name("intruder")
    pod = session_pod(intruder)
    foreign_pod(k8s, k8s.name("owner"), pod)
    res = k8s.start(intruder)
    assert res.rc == 1
    assert "belongs to another session" in res.err
    untouched(k8s, pod)


@pytest.mark.parametrize("cities", [
    ("acme/blue", "acme-blue"),
    ("c" * 63 + "-north", "c" * 63 + "-south"),
    ("Acme", "acme"),
], ids=["sanitized", "cut", "case"])
def test_city_scoped_list_running_lists_only_its_own_city(
        k8s: K8s, cities: tuple[str, str]) -> None:
    tag = uuid.uuid4().hex[:6]
    names: dict[str, str] = {}
    for city in cities:
        name = f"w-{tag}-{len(names)}"
        names[city] = name
        res = k8s.start(name, env={"GC_K8S_CITY": city})
        assert res.rc == 0, res.err
    for city, name in names.items():
        listed = k8s.ok("list-running", f"w-{tag}", env={"GC_K8S_CITY": city}).splitlines()
        assert listed == [name], (city, listed)
    for city, name in names.items():
        assert k8s.ok("stop", name, env={"GC_K8S_CITY": city}) == ""
