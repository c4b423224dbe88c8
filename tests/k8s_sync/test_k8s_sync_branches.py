"""Per-session branch names and the branch setup the k8s provider runs at start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from k8s_sync_helpers import NAMESPACE, Pods, git

from gc_session_k8s.branches import branch_setup_argv, session_branch

AWKWARD_NAMES = [
    "mayor", "rig/polecat-1", "Mayor", "a b", "a..b", ".hidden", "x.lock", "a//b", "trail/",
    "trail.", "@", "a@{b", "tilde~caret^colon:q?star*[", "back\\slash", "ünïcode", "-dash",
    "", "/", "..", "x" * 300, "a/.b/c", "name.lock/x",
]


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_session_branch_is_a_valid_git_branch_for_any_session_name(name: str) -> None:
    branch = session_branch(name)

    assert branch.startswith("gc/")
    checked = subprocess.run(["git", "check-ref-format", "--branch", branch],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, (name, branch, checked.stderr)
    assert len(branch) <= 210


def test_safe_session_names_are_kept_as_they_are() -> None:
    assert session_branch("mayor") == "gc/mayor"
    assert session_branch("rig/polecat-1") == "gc/rig/polecat-1"
    assert session_branch("v1.2_x") == "gc/v1.2_x"


def test_distinct_session_names_never_share_a_branch() -> None:
    branches = [session_branch(name) for name in AWKWARD_NAMES]
    assert len(set(branches)) == len(AWKWARD_NAMES)
    assert session_branch("a b") != session_branch("a-b")


def run_setup(session: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    (argv,) = branch_setup_argv(session)
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def test_branch_setup_puts_a_git_work_dir_on_the_session_branch(base_repo: Path) -> None:
    head = git(base_repo, "rev-parse", "HEAD")

    assert run_setup("rig/polecat", base_repo).returncode == 0

    assert git(base_repo, "symbolic-ref", "--short", "HEAD") == "gc/rig/polecat"
    assert git(base_repo, "rev-parse", "HEAD") == head


def test_branch_setup_is_a_no_op_outside_a_git_repository(tmp_path: Path) -> None:
    done = run_setup("alpha", tmp_path)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert list(tmp_path.iterdir()) == []


def test_branch_setup_switches_to_an_existing_session_branch_without_resetting_it(
        base_repo: Path) -> None:
    git(base_repo, "checkout", "-q", "-b", "gc/alpha")
    (base_repo / "work.txt").write_text("done\n")
    git(base_repo, "add", "work.txt")
    git(base_repo, "commit", "-q", "-m", "work")
    work = git(base_repo, "rev-parse", "HEAD")
    git(base_repo, "checkout", "-q", "main")

    assert run_setup("alpha", base_repo).returncode == 0
    assert run_setup("alpha", base_repo).returncode == 0  # already there: nothing to do

    assert git(base_repo, "symbolic-ref", "--short", "HEAD") == "gc/alpha"
    assert git(base_repo, "rev-parse", "HEAD") == work


def test_branch_setup_works_in_an_empty_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")

    assert run_setup("alpha", tmp_path).returncode == 0

    assert git(tmp_path, "symbolic-ref", "--short", "HEAD") == "gc/alpha"


def test_branch_setup_in_a_pod_then_sync_brings_back_the_same_branch(
        pods: Pods, base_repo: Path, local_repo: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gc_session_k8s.sync.command import main

    pod = pods.start("rig/alpha", pods.clone_of(base_repo))
    (argv,) = branch_setup_argv("rig/alpha")
    done = pod.kube.kubectl("-n", NAMESPACE, "exec", pod.name, "-c", "agent", "--", *argv)
    assert done.returncode == 0, done.stderr
    assert pod.git("symbolic-ref", "--short", "HEAD") == "gc/rig/alpha"
    commit = pod.commit("a.txt", "A1", "A1")

    assert main(["rig/alpha", "--to", str(local_repo)]) == 0

    assert git(local_repo, "rev-parse", "gc/rig/alpha") == commit
    assert "gc/rig/alpha" in capsys.readouterr().out
