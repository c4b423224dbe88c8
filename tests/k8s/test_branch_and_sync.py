"""Wiring of the sync helper's modules: session branches at start, `sync` as a human command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from k8s_helpers import K8s


def test_session_branch_is_set_up_in_the_staged_work_dir(k8s: K8s, tmp_path: Path) -> None:
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "f.txt").write_text("x\n")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    name = k8s.name()
    res = k8s.start(name, {"work_dir": str(repo), "command": "sleep 300"},
                    env={"GC_K8S_SESSION_BRANCH": "1"})
    assert res.rc == 0, res.err
    branch = k8s.ok("exec", name, stdin="git -c safe.directory='*' rev-parse --abbrev-ref HEAD")
    assert branch == f"gc/{name}"


def test_sync_is_a_human_command_that_never_exits_2(k8s: K8s) -> None:
    res = k8s.run("sync", "--help")
    assert res.rc == 0
    assert k8s.run("sync", "--no-such-flag").rc == 1
