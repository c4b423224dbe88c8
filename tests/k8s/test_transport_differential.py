"""The three exec transports agree: every op, run through ``GC_K8S_TRANSPORT=kubectl``,
``direct`` and ``helper`` over one generated corpus (session names, namespaces, keys,
values, stdin and server faults), exits the same, prints the same and fails the same way.

Each example runs its op through the three transports one after the other against the
same state (the ops in the corpus leave it as they found it, or change it the same way
each time) and with the same fault installed afresh for each. With a fault, the helper's
resident streams and kept answers are off: a stream opened before the fault would not
meet it, which is no disagreement of the transports.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest
from helpers import Completed, stop_helper, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from k8s_helpers import K8s

TRANSPORTS = ("kubectl", "direct", "helper")
RUNNING = "diff-alpha"  # started once, runs throughout


def mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Four draws in five from ``good``: most of the corpus reaches the pod."""
    return st.integers(0, 4).flatmap(lambda n: st.sampled_from(good if n else bad))


NAMES = mostly([RUNNING, RUNNING, "diff-ghost"],
               ["Diff-Alpha", "ns2/../gc", "-dash", "a" * 80, "x y", "tab\tname", "Ünï", ""])
NAMESPACES = mostly(["gc", "gc", "", "nope"],
                    ["ns2/../gc", "GC", "-gc", "gc-", "a" * 64, "g.c", "gc/x", " gc"])
KEYS = mostly(["k", "diff-key", "GC_SESSION_ID", "ключ"],
              ["a=b", "", "sp ace", "x" * 300, "semi;colon", "#{pane_id}"])
VALUES = st.one_of(st.sampled_from([b"", b"v", b"line\nline", b"#{pane_id}", b"$(id)",
                                    "ünï".encode(), b"\xff\xfe", b"x" * 5000]),
                   st.binary(max_size=40).filter(lambda b: b"\0" not in b))
#: Faults every transport meets the same way. Not among them: a refused exec upgrade
#: (kubectl then retries over SPDY, which the offline server does not speak) and a denied
#: ``get pods`` (kubectl reads the pod before its exec; the others need only the exec).
FAULTS = st.sampled_from([None, None, None, ("deny", "create"), ("deny", "list")])


@st.composite
def calls(draw: st.DrawFn) -> tuple[list[str], bytes]:
    """One op's argv (after the executable) and stdin."""
    name = draw(NAMES)
    op = draw(st.sampled_from(["is-running", "process-alive", "get-meta", "set-meta",
                               "remove-meta", "peek", "get-last-activity", "is-attached",
                               "nudge", "send-keys", "clear-scrollback", "interrupt", "exec",
                               "list-running", "stop"]))
    if op == "stop" and name == RUNNING:
        name = "diff-ghost"  # the corpus leaves the running session running
    if op in ("get-meta", "set-meta", "remove-meta"):
        return [op, name, draw(KEYS)], draw(VALUES) if op == "set-meta" else b""
    if op == "peek":
        return [op, name, draw(st.sampled_from(["5", "0", "-1", "x", "99999999999999999999"]))], b""
    if op == "send-keys":
        return [op, name, *draw(st.lists(st.sampled_from(["Escape", "q", "C-l", "Nope-Key", "#{x}"]),
                                         max_size=3))], b""
    if op == "process-alive":
        return [op, name], draw(st.sampled_from([b"sleep", b"", b"nothing-here", b"sleep\nsh"]))
    if op == "nudge":
        return [op, name], draw(VALUES)
    if op == "exec":
        return [op, name], draw(st.sampled_from([b"echo hi", b"exit 3", b"printf e >&2; exit 4",
                                                 b"cat /nonexistent", b""]))
    if op == "list-running":
        return [op, draw(st.sampled_from(["diff-", "", "zz"]))], b""
    return [op, name], b""


def error_class(res: Completed) -> str:
    """What kind of failure, in words every transport shares (its wording may differ)."""
    if res.rc == 0:
        return "ok"
    text = res.err.lower()
    for kind, words in (("usage", ("usage", "not a valid", "invalid", "must be", "bad ")),
                        ("forbidden", ("forbidden", "cannot create")),
                        ("missing", ("not found", "missing", "no such", "not running")),
                        ("unavailable", ("unavailable", "unable to connect", "timed out",
                                         "timeout", "internal"))):
        if any(word in text for word in words):
            return kind
    return "error"


@pytest.fixture
def helper_dir(k8s: K8s) -> Iterator[str]:
    where = tempfile.mkdtemp(prefix="gck-", dir="/tmp")  # short: the helper's socket lives here
    try:
        yield where + "/run"
    finally:
        stop_helper(where + "/run")
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.slow
def test_every_op_agrees_across_kubectl_direct_and_helper(k8s: K8s, helper_dir: str) -> None:
    from providers.kube.transport import helper_client

    k8s.env["GC_K8S_RUNTIME_DIR"] = helper_dir
    res = k8s.start(RUNNING, {"command": "sleep 300"})
    assert res.rc == 0, res.err
    k8s.run("is-running", RUNNING, env={"GC_K8S_TRANSPORT": "helper"})  # starts the helper
    assert wait_for(lambda: helper_client.control(
        "status", {"GC_K8S_RUNTIME_DIR": helper_dir}) is not None, 30)
    k8s.server.create_namespace("nope")
    outcomes: list[tuple[str, str]] = []

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(call=calls(), namespace=NAMESPACES, fault=FAULTS)
    def agree(call: tuple[list[str], bytes], namespace: str,
              fault: tuple[str, object] | None) -> None:
        argv, stdin = call
        env = {"GC_K8S_NAMESPACE": namespace}
        if fault is not None:
            env.update(GC_K8S_HELPER_STREAMS="0", GC_K8S_HELPER_CACHE_MS="0")
        seen = {}
        for transport in TRANSPORTS:
            if fault is not None:
                _kind, arg = fault
                k8s.server.deny(str(arg), "pods/exec" if arg == "create" else "pods")
            try:
                res = k8s.run(*argv, stdin=stdin, env={**env, "GC_K8S_TRANSPORT": transport})
            finally:
                k8s.server.faults.clear()
            seen[transport] = (res.rc, res.out, error_class(res), res.err)
        outcomes.append((argv[0], seen["kubectl"][2]))
        shapes = {t: v[:3] for t, v in seen.items()}
        assert len(set(shapes.values())) == 1, f"{argv} ns={namespace!r} fault={fault}: {seen}"
        for _rc, _out, _kind, err in seen.values():
            assert len(err.strip().splitlines()) <= 1, err  # one clear line, at most

    agree()
    # the corpus reached every kind of outcome, and most ops ran in the pod
    assert {kind for _op, kind in outcomes} >= {"ok", "usage", "missing", "forbidden"}, outcomes
    assert len({op for op, kind in outcomes if kind == "ok"}) >= 8, outcomes


@pytest.mark.parametrize("namespace", ["ns2/../gc", "GC", "-gc", "a" * 64, "g.c"])
def test_an_invalid_namespace_is_one_line_and_exit_1_on_every_transport(
        k8s: K8s, helper_dir: str, namespace: str) -> None:
    k8s.env["GC_K8S_RUNTIME_DIR"] = helper_dir
    for transport in TRANSPORTS:
        for op, stdin in (("is-running", b""), ("set-meta", b"v"), ("nudge", b"hi")):
            args = [op, "diff-ns", *(["k"] if op == "set-meta" else [])]
            res = k8s.run(*args, stdin=stdin,
                          env={"GC_K8S_NAMESPACE": namespace, "GC_K8S_TRANSPORT": transport})
            assert (res.rc, res.out) == (1, ""), (transport, op, res)
            assert res.err.count("\n") == 1 and "not a valid namespace" in res.err, res.err
