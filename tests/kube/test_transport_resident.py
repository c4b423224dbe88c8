"""Resident exec streams: one long-lived shell per pod that the helper runs hot ops
through. A command sent down a stream must answer exactly as its own exec would, and a
stream that dies must cost a read nothing and a write never a second run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transport_support import POD, SETTINGS, audit_lines, ensure_pod

from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from protocol.proc import Result
from providers.kube import audit
from providers.kube.errors import KubeTimeout, KubeUnavailable, PodGone
from providers.kube.pod_exec import exec_in_pod
from providers.kube.transport import direct, kubeconfig, resident, tls

pytest_plugins = ["transport_fixtures"]

ECHO = ["sh", "-c", 'printf %s "$1"; cat; printf %s "$2" >&2; exit "$3"', "sh"]
#: The pid of the shell that ran this command's subshell: the stream's resident shell.
SHELL_PID = ["sh", "-c", 'read -r _ _ _ ppid _ < "/proc/$PPID/stat"; echo "$ppid"']


@pytest.fixture
def streams(direct_env: FakeKubeEnv) -> Iterator[resident.Streams]:
    made = resident.Streams()
    yield made
    made.close_all()


def through(streams: resident.Streams, argv: list[str], stdin: bytes | None = None, *,
            write: bool = False, timeout: float = 20, pod: str = POD) -> Result:
    text = resident.command_text(argv, stdin)
    assert text is not None
    return streams.run(SETTINGS, kubeconfig.target(SETTINGS), pod, "agent", text, timeout,
                       write=write, opener=direct.open_fresh, environ=dict(os.environ))


def plain(argv: list[str], stdin: bytes | None = None) -> Result:
    return direct.exec_once(SETTINGS, POD, "agent", argv, stdin, 20)


def seen(r: Result) -> tuple[int, bytes, bytes]:
    return r.rc, r.out, r.err


texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"),
                max_size=80)
data = st.binary(max_size=300).filter(lambda b: b"\0" not in b)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(out=texts, err=texts, stdin=st.none() | data, code=st.integers(0, 125))
def test_a_stream_answers_exactly_as_an_exec_of_its_own(streams: resident.Streams, out: str,
                                                         err: str, stdin: bytes | None,
                                                         code: int) -> None:
    argv = [*ECHO, out, err, str(code)]
    assert seen(through(streams, argv, stdin)) == seen(plain(argv, stdin))


class Case(NamedTuple):
    name: str
    argv: list[str]
    stdin: bytes | None


CASES = [
    Case("shell syntax stays text", ["printf", "%s|", "$(id)", "`id`", "a;", ";", "'\"", "\\"], None),
    Case("newlines in arguments", ["printf", "%s|", "one\ntwo\n", "\n"], None),
    Case("input with backslashes and printf escapes", ["cat"], b"\\c\\n\\0101%s%b\\\\'\"\n"),
    Case("input without a final newline", ["cat"], b"no newline"),
    Case("empty input", ["cat"], b""),
    Case("bytes that are not UTF-8", ["cat"], bytes(range(1, 256))),
    Case("output that looks like an answer's end", ["printf", "\n%s 0\n", "deadbeef"], None),
    Case("a megabyte of output", ["head", "-c", "1048576", "/dev/zero"], None),
    Case("a command that is not there", ["no-such-command-gc"], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_what_a_stream_carries_arrives_unchanged(streams: resident.Streams, case: Case) -> None:
    got = through(streams, case.argv, case.stdin)
    want = plain(case.argv, case.stdin)
    if case.argv[0] == "no-such-command-gc":  # the shell says so where an exec's runtime would
        assert got.rc == 127 and want.rc != 0
        return
    assert seen(got) == seen(want)


def test_one_stream_serves_a_pods_commands_one_after_another(streams: resident.Streams) -> None:
    shells = {through(streams, SHELL_PID).out for _ in range(5)}
    assert len(shells) == 1  # every command a child of the same resident shell
    assert streams.count() == 1


def test_input_that_cannot_travel_in_a_stream_takes_an_exec_of_its_own() -> None:
    assert resident.command_text(["cat"], b"a\0b") is None
    assert resident.command_text(["cat"], b"x" * (resident.MAX_REQUEST + 1)) is None
    assert resident.command_text(["echo", "y" * resident.MAX_REQUEST], None) is None
    assert resident.command_text(["cat"], b"small") is not None


def test_a_command_past_its_deadline_is_a_timeout_and_the_next_one_runs(
        streams: resident.Streams) -> None:
    with pytest.raises(KubeTimeout):
        through(streams, ["sleep", "5"], timeout=0.5)
    assert streams.count() == 0  # a stream left mid-command is closed, never reused
    assert through(streams, ["echo", "next"]).out == b"next\n"


def resident_shell(streams: resident.Streams) -> int:
    return int(through(streams, SHELL_PID).out)


def test_a_stream_whose_shell_was_killed_is_replaced_for_the_next_read(
        streams: resident.Streams) -> None:
    pid = resident_shell(streams)
    assert plain(["kill", "-9", str(pid)]).rc == 0
    time.sleep(0.2)  # the end of the stream reaches us; if not, the read's retry covers it
    assert through(streams, ["echo", "again"]).out == b"again\n"
    assert resident_shell(streams) != pid


def test_a_read_on_a_stream_that_died_unseen_runs_once_more_on_a_new_one(
        streams: resident.Streams, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = resident_shell(streams)
    monkeypatch.setattr(tls.Conn, "quiet", lambda self: True)  # its end not seen yet
    assert plain(["kill", "-9", str(pid)]).rc == 0
    assert through(streams, ["echo", "read"]).out == b"read\n"


def test_a_write_on_a_stream_that_died_unseen_is_an_error_never_a_second_run(
        streams: resident.Streams, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = resident_shell(streams)
    monkeypatch.setattr(tls.Conn, "quiet", lambda self: True)
    assert plain(["kill", "-9", str(pid)]).rc == 0
    marker = f"/tmp/gc-resident-write-{os.getpid()}"
    with pytest.raises(KubeUnavailable, match="a write is not repeated"):
        through(streams, ["sh", "-c", f"echo x >> {marker}"], write=True)
    assert plain(["sh", "-c", f"cat {marker} 2>/dev/null; rm -f {marker}"]).out == b""


def test_a_write_takes_only_a_stream_used_just_now(streams: resident.Streams,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = resident_shell(streams)
    monkeypatch.setattr(resident, "FRESH_FOR_WRITES", 0.0)
    shell = through(streams, SHELL_PID, write=True).out
    assert int(shell) != first  # a new stream: the idle one is not trusted with a write
    assert streams.count() == 2


def test_a_stream_serves_no_longer_than_its_age_limit(streams: resident.Streams,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # An exec is authorized when it opens: a revoked permission must stop streams too.
    monkeypatch.setattr(resident, "MAX_AGE", 0.0)
    first = resident_shell(streams)
    assert streams.count() == 0  # not kept: already past its age
    assert resident_shell(streams) != first


def test_idle_streams_are_closed_and_their_shell_ends(streams: resident.Streams,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pid = resident_shell(streams)
    monkeypatch.setattr(resident, "MAX_IDLE", 0.0)
    streams.reap()
    assert streams.count() == 0
    deadline = time.monotonic() + 20
    while plain(["kill", "-0", str(pid)]).rc == 0:
        assert time.monotonic() < deadline, "the resident shell outlived its stream"
        time.sleep(0.1)


def test_a_stream_to_a_deleted_pod_ends_in_pod_gone(direct_env: FakeKubeEnv,
                                                    streams: resident.Streams) -> None:
    other = ensure_pod(direct_env, "transport-pod-gone")
    assert through(streams, ["true"], pod=other).rc == 0
    r = direct_env.kubectl("delete", "pod", other, "-n", "gc", "--wait=true")
    assert r.returncode == 0, r.stderr
    with pytest.raises(PodGone):
        through(streams, ["true"], pod=other)


# -- through the helper: which ops take a stream -------------------------------------


def run_as(op: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "_op", op)
    exec_in_pod(POD, ["echo", op], container="agent", settings=SETTINGS, retry=True)


def test_hot_ops_go_through_the_pods_stream_and_other_ops_get_their_own_exec(
        helper_env: FakeKubeEnv, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from test_transport_helper import helper_up

    monkeypatch.setenv("GC_K8S_HELPER_CACHE_MS", "0")  # every read runs (see test_transport_answers)
    helper_up()
    for op in ("is-running", "get-meta", "start", "is-running"):
        run_as(op, monkeypatch)
    monkeypatch.setenv("GC_K8S_HELPER_STREAMS", "0")
    run_as("is-running", monkeypatch)
    lines = [(line["op"], bool(line.get("resident"))) for line in audit_lines(tmp_path)]
    assert lines == [("is-running", True), ("get-meta", True), ("start", False),
                     ("is-running", True), ("is-running", False)]


def test_a_stream_past_renew_age_gets_a_successor_opened_off_the_ops_path(
        direct_env: FakeKubeEnv, streams: resident.Streams,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = through(streams, SHELL_PID).out
    assert streams.renewed == 0  # a young stream is simply reused
    assert through(streams, SHELL_PID).out == first
    monkeypatch.setattr(resident, "RENEW_AFTER", 0.0)
    assert through(streams, SHELL_PID).out == first  # this op is served by the old stream
    deadline = time.monotonic() + 20
    while streams.renewed < 1:
        assert time.monotonic() < deadline, "no successor was opened"
        time.sleep(0.02)
    assert streams.count() == 1  # the old stream was closed once its successor was up
    assert through(streams, SHELL_PID).out != first  # the next op finds the successor
