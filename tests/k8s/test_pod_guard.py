"""`pod_runner.guarded`: the ownership check rides in the exec and changes nothing else.

Run with the real ``sh`` here, as the pod runs it: with the pod's session variable equal
to the name, a guarded argv does exactly what the argv does (arguments, ``$0``, stdin,
exit code); with any other value, or none, it runs nothing and reports `FOREIGN`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gc_session_k8s.cli import nudge_lock
from gc_session_k8s.naming import SESSION_ENV
from gc_session_k8s.pod_runner import FOREIGN_RC, PodRunner, foreign, guarded
from protocol.dispatch import Call
from protocol.proc import Result
from providers.kube.settings import KubeSettings

ARGS = st.lists(st.text(st.characters(blacklist_characters="\0", codec="utf-8"), max_size=20),
                max_size=5)
NAMES = st.text("abcAZ09_-", min_size=1, max_size=30)


def run(argv: list[str], pod_session: str | None, stdin: bytes = b"") -> Result:
    env = {"PATH": os.environ["PATH"]}
    if pod_session is not None:
        env[SESSION_ENV] = pod_session
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, timeout=10,
                          check=False)
    return Result(done.returncode, done.stdout, done.stderr)


SCRIPT = 'printf "%s|" "$0" "$@"; cat; exit 7'


@given(ARGS, NAMES)
@settings(max_examples=60, deadline=None)
def test_a_guarded_script_runs_as_itself_in_its_sessions_pod(args: list[str], name: str) -> None:
    plain = ["sh", "-c", SCRIPT, "zero", *args]
    want, got = run(plain, None, b"in"), run(guarded(plain, name), name, b"in")
    assert (got.rc, got.out, got.err) == (want.rc, want.out, want.err)
    command = ["printf", "%s|", *args]
    assert run(guarded(command, name), name).out == run(command, None).out


@given(ARGS, NAMES, st.one_of(st.none(), NAMES))
@settings(max_examples=60, deadline=None)
def test_a_guarded_exec_in_another_sessions_pod_runs_nothing(
        args: list[str], name: str, other: str | None) -> None:
    if other == name:
        return
    res = run(guarded(["sh", "-c", "echo ran; exit 0", "sh", *args], name), other)
    assert res.rc == FOREIGN_RC and res.out == b""
    assert foreign(res)


def test_nudges_of_two_names_reaching_one_pod_share_one_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locks are keyed by what they protect: the pod, not the name."""
    monkeypatch.setenv("GC_EXEC_STATE_DIR", str(tmp_path))
    kube = KubeSettings.from_env({})
    locks = [nudge_lock(Call("gc-session-k8s", "nudge", {"name": n}, []),
                        PodRunner(kube, "shared-pod", n)) for n in ("Mayor", "other")]
    assert locks[0].path == locks[1].path
