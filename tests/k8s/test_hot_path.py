"""The quickest path: with the helper running, a read op is handed to it whole
(`gc_session_k8s.hot` -> `gc_session_k8s.answer` in the helper). It must answer exactly
as the full path does, import next to nothing, and whatever goes wrong with the helper,
the op still answers the full way, with its stdin intact."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers import Completed, imported, stand_in_door, stand_in_helper, stop_helper
from k8s_helpers import K8s

from gc_session_k8s import answer, hot
from providers.kube.transport import wire

#: Modules of ours the full path loads that the quick path must not.
FULL_PATH_ONLY = ("gc_session_k8s.cli", "protocol.dispatch", "providers.tmux.session",
                  "providers.kube.kubectl", "gc_session_k8s.pod_runner")


def test_the_executable_and_the_helper_agree_on_which_ops_are_answered_whole() -> None:
    assert hot.READS == answer.READS
    assert not hot.READS & {"nudge", "set-meta", "remove-meta", "send-keys", "interrupt",
                            "clear-scrollback", "start", "stop"}


def test_every_module_of_ours_the_helper_runs_is_in_its_code_version() -> None:
    """A changed module the list missed would go on answering with the old code."""
    probe = ("import sys, providers.kube.transport.helper, gc_session_k8s.helper\n"
             "print('\\n'.join(m for m in sys.modules "
             "if m.split('.')[0] in ('protocol', 'providers', 'gc_session_k8s')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.split()
    listed = set(wire.CODE)
    missing = []
    for module in loaded:
        path = module.replace(".", "/")
        if f"{path}.py" not in listed and f"{path}/__init__.py" not in listed \
                and not os.path.isdir(os.path.join(wire.ROOT, path)):
            missing.append(module)
    assert not missing, f"add to wire.CODE: {missing}"
    assert all(os.path.exists(os.path.join(wire.ROOT, p)) for p in wire.CODE)


def started(k8s: K8s) -> str:
    name = k8s.name()
    res = k8s.start(name, {"command": "sleep 300", "env": {"GC_SESSION_ID": "sid-1"}})
    assert res.rc == 0, res.err
    return name


def test_a_tick_op_through_the_helper_loads_none_of_the_full_path(k8s: K8s,
                                                                  helper: dict[str, str]) -> None:
    name = started(k8s)
    res, loaded = imported([*k8s.argv, "is-running", name], k8s.env, timeout=60)
    assert res.returncode == 0 and res.stdout == b"true\n", res.stderr[-2000:]
    assert "gc_session_k8s.hot" in loaded
    assert not loaded & set(FULL_PATH_ONLY), loaded & set(FULL_PATH_ONLY)


def test_the_launcher_runs_a_tick_op_without_site_and_the_full_way_with_site(
        k8s: K8s, helper: dict[str, str]) -> None:
    if len(k8s.argv) > 1:
        pytest.skip("not installed: no launcher")
    name = started(k8s)
    res, loaded = imported([*k8s.argv, "is-running", name], k8s.env, timeout=60)
    assert res.returncode == 0 and res.stdout == b"true\n", res.stderr[-2000:]
    assert "gc_session_k8s.hot" in loaded and not loaded & {"site", "json", "ssl"}
    # The full way (a write) gets site set up first: what it imports may be anywhere.
    res, loaded = imported([*k8s.argv, "set-meta", name, "K"], k8s.env, stdin=b"v", timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert {"site", "gc_session_k8s.cli"} <= loaded


class Read(NamedTuple):
    op: str
    args: tuple[str, ...] = ()
    stdin: bytes = b""


READS = [Read("is-running"), Read("process-alive", stdin=b"sleep"),
         Read("process-alive", stdin=b"claude\nnode"), Read("process-alive"),
         Read("get-meta", ("GC_SESSION_ID",)), Read("get-meta", ("UNSET_KEY",)),
         Read("get-meta", ("bad;key",)), Read("peek", ("5",)), Read("peek", ("x",)),
         Read("is-attached"), Read("is-running", ("extra",))]


def seen(res: Completed) -> tuple[int, str, str]:
    return res.rc, res.out, res.err


@pytest.mark.parametrize("read", READS, ids=[f"{r.op}{list(r.args)}{r.stdin!r}" for r in READS])
def test_each_read_answers_through_the_helper_exactly_as_the_full_path(
        k8s: K8s, helper: dict[str, str], read: Read) -> None:
    name = started(k8s)
    for target in (name, "no-such-session", "Bad Name", "a;b"):
        quick = k8s.run(read.op, target, *read.args, stdin=read.stdin)
        full = k8s.run(read.op, target, *read.args, stdin=read.stdin,
                       env={"GC_K8S_TRANSPORT": "kubectl"})
        assert seen(quick) == seen(full), (target, seen(quick), seen(full))


def test_the_answer_writes_the_audit_line_the_client_would(k8s: K8s,
                                                           helper: dict[str, str]) -> None:
    name = started(k8s)
    mark = len(k8s.audit_lines())
    assert k8s.run("get-meta", name, "GC_SESSION_ID").value == "sid-1"
    assert k8s.run("is-running", name).value == "true"
    assert k8s.run("is-running", name).value == "true"
    lines = [line for line in k8s.audit_lines()[mark:] if line["argv"][0] == "exec"]
    assert [(line["op"], line["transport"], line["exit"]) for line in lines] == [
        ("get-meta", "helper", 0), ("is-running", "helper", 0), ("is-running", "helper", 0)]
    assert lines[-1].get("cached") is True
    assert len({line["id"] for line in lines}) == 3  # one correlation id per invocation
    assert all(line["pod"] == name for line in lines)


@pytest.fixture
def fake_helper(k8s: K8s) -> Iterator[list[bytes]]:
    """A stand-in on the helper's socket and door that reads each request and hangs up
    without an answer: a helper that died mid-answer."""
    where = tempfile.mkdtemp(prefix="gckf-", dir="/tmp")  # short: a unix socket lives here
    k8s.env.update(GC_K8S_TRANSPORT="helper", GC_K8S_RUNTIME_DIR=where + "/run")
    got: list[bytes] = []

    def reply(conn: socket.socket) -> None:
        conn.settimeout(2)
        got.append(conn.recv(1 << 16))

    try:
        with stand_in_helper(Path(where) / "run", reply), stand_in_door(Path(where) / "run", got):
            yield got
    finally:
        stop_helper(where + "/run")
        shutil.rmtree(where, ignore_errors=True)


def test_a_helper_that_hangs_up_mid_answer_costs_the_op_nothing(k8s: K8s,
                                                                fake_helper: list[bytes]) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sleep 300"}, env={"GC_K8S_TRANSPORT": "kubectl"}).rc == 0
    assert k8s.run("is-running", name).value == "true"
    # stdin read for the helper is given back to the full path, byte for byte
    assert k8s.run("process-alive", name, stdin=b"nothing-like-it\nsleep").value == "true"
    assert k8s.run("process-alive", name, stdin=b"nothing-like-it").value == "false"
    assert any(b'"answer"' in request for request in fake_helper)
    execs = [line for line in k8s.audit_lines() if line["argv"][0] == "exec"
             and line["op"] in ("is-running", "process-alive")]
    assert execs and all(line["transport"] == "direct" for line in execs)


def test_a_helper_of_other_code_is_left_running_beside_ours_and_the_op_still_answers(
        k8s: K8s, helper: dict[str, str]) -> None:
    """Two installs (here: one changed in place) each reach their own helper, keyed by the
    code's hash in the socket's name: one's call never makes the other's exit."""
    name = started(k8s)
    pid = int(k8s.run("helper", "status").out.split('"pid": ')[1].split(",")[0])
    # Another installation's code: the same files, another version string.
    hot_py = Path(hot.__file__)
    stat = hot_py.stat()
    os.utime(hot_py, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    try:
        assert k8s.run("is-running", name).value == "true"
        deadline = time.monotonic() + 30
        while k8s.run("helper", "status").value == "helper: not running":
            assert time.monotonic() < deadline, "the other code's helper did not start"
            time.sleep(0.05)
        other = int(k8s.run("helper", "status").out.split('"pid": ')[1].split(",")[0])
        assert other != pid and os.path.exists(f"/proc/{pid}")  # the first one still serves
        sockets = [entry for entry in os.listdir(helper["GC_K8S_RUNTIME_DIR"])
                   if entry.startswith("helper-") and entry.endswith(".sock")]
        assert len(sockets) == 2, sockets
        k8s.run("helper", "stop")
    finally:
        os.utime(hot_py, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.kill(pid, signal.SIGTERM)  # the first helper, which this test started


def test_a_reader_that_went_away_is_exit_1_without_a_traceback_on_both_paths(
        k8s: K8s, helper: dict[str, str]) -> None:
    name = started(k8s)
    for env in ({}, {"GC_K8S_TRANSPORT": "kubectl"}):
        read_end, write_end = os.pipe()
        os.close(read_end)  # gc stopped reading before the answer came
        try:
            res = subprocess.run([*k8s.argv, "is-running", name], stdout=write_end,
                                 stderr=subprocess.PIPE, env={**k8s.env, **env}, timeout=60,
                                 check=False)
        finally:
            os.close(write_end)
        assert res.returncode == 1, (env, res.stderr)
        assert b"Traceback" not in res.stderr, res.stderr
