"""gc-session-k8s's env.* decisions: what the handshake declares from the settings, and
what start's check in the pod says (run here by sh, the pod's shell, with a PATH of stubs)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import box_tools

from gc_session_k8s.env import check_in_pod, env_capabilities
from protocol.proc import Result

BOX_TOOLS = box_tools()  # where a pod's user can run them


class Shell:
    """The one Runner method the check uses: ``sh -c script sh args`` with this PATH."""

    def __init__(self, path: str) -> None:
        self.path = path

    def shell(self, script: str, args: Sequence[str] = ()) -> Result:
        res = subprocess.run(["sh", "-c", script, "sh", *args], capture_output=True, check=False,
                             env={"PATH": self.path}, timeout=30)
        return Result(res.returncode, res.stdout, res.stderr)


def stub(where: Path, name: str, body: str) -> None:
    where.mkdir(exist_ok=True)
    (where / name).write_text(f"#!/bin/sh\n{body}\n")
    (where / name).chmod(0o755)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, ["env.workspace", "env.identity", "env.transcripts"]),
    ({"GC_K8S_TOOLS_PATH": "/opt/gc/bin"}, ["env.workspace", "env.identity", "env.transcripts", "env.tooling"]),
    ({"GC_K8S_PREBAKED": "1"}, ["env.identity", "env.transcripts"]),
    ({"GC_K8S_PREBAKED": "0", "GC_K8S_TOOLS_PATH": ""}, ["env.workspace", "env.identity", "env.transcripts"]),
])
def test_the_handshake_declares_what_the_settings_make_true_and_never_the_ledger(
        environ: dict[str, str], expected: list[str]) -> None:
    assert env_capabilities(environ) == expected


def test_a_pod_with_the_declared_tools_and_a_user_passes(tmp_path: Path) -> None:
    stub(tmp_path / "bin", "whoami", "echo agent")
    runner = Shell(f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert check_in_pod(runner, {"GC_K8S_TOOLS_PATH": str(BOX_TOOLS)}) == ("", "")  # type: ignore[arg-type]


def test_a_missing_tool_fails_start_with_its_name(tmp_path: Path) -> None:
    stub(tmp_path / "bin", "whoami", "echo agent")
    stub(tmp_path / "tools", "gc", "true")
    runner = Shell(f"{tmp_path / 'bin'}:/usr/bin:/bin")
    why, warning = check_in_pod(runner, {"GC_K8S_TOOLS_PATH": str(tmp_path / "tools")})  # type: ignore[arg-type]
    assert why.startswith("env.tooling: no bd on GC_K8S_TOOLS_PATH") and warning == ""


def test_a_whoami_that_does_not_answer_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    stub(tmp_path / "bin", "whoami", "echo 'whoami: cannot find name for user ID 4242' >&2; exit 1")
    runner = Shell(f"{tmp_path / 'bin'}:/usr/bin:/bin")
    why, warning = check_in_pod(runner, {})  # type: ignore[arg-type]
    assert why == "" and warning.startswith("env.identity: whoami does not answer")
