"""`gc-session-k8s sync` for a git work dir: per-session branches, nothing lost."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import executable
from k8s_sync_helpers import Pods, branch_commits, git, repo_state

from gc_session_k8s.branches import session_branch

Sync = Callable[..., tuple[int, str, str]]


def test_two_pods_from_the_same_commit_keep_both_histories_in_either_order(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod_a = pods.start("alpha", pods.clone_of(base_repo))
    pod_b = pods.start("rig/beta", pods.clone_of(base_repo))
    a1 = pod_a.commit("a.txt", "A1", "A1")
    a2 = pod_a.commit("a.txt", "A2", "A2")
    b1 = pod_b.commit("b.txt", "B1", "B1")
    b2 = pod_b.commit("b.txt", "B2", "B2")
    local_head = git(local_repo, "rev-parse", "HEAD")

    for session in ("rig/beta", "alpha"):  # B first: the order the issue loses A1, A2 in
        code, out, err = sync(session, "--to", str(local_repo))
        assert (code, err) == (0, ""), err
        assert "created" in out

    alpha, beta = branch_commits(local_repo, "gc/alpha"), branch_commits(local_repo, "gc/rig/beta")
    assert alpha[:2] == [a2, a1] and b1 not in alpha
    assert beta[:2] == [b2, b1] and a1 not in beta
    assert alpha[-1] == beta[-1] == local_head  # both grow from the shared base commit
    assert git(local_repo, "show", "gc/alpha:a.txt") == "A2"
    assert git(local_repo, "show", "gc/rig/beta:b.txt") == "B2"


def test_syncing_the_other_order_keeps_both_histories_too(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod_a = pods.start("alpha", pods.clone_of(base_repo))
    pod_b = pods.start("beta", pods.clone_of(base_repo))
    a1 = pod_a.commit("same.txt", "from A", "A1")
    b1 = pod_b.commit("same.txt", "from B", "B1")

    assert sync("alpha", "--to", str(local_repo))[0] == 0
    assert sync("beta", "--to", str(local_repo))[0] == 0

    assert branch_commits(local_repo, "gc/alpha")[0] == a1
    assert branch_commits(local_repo, "gc/beta")[0] == b1
    assert git(local_repo, "show", "gc/alpha:same.txt") == "from A"
    assert git(local_repo, "show", "gc/beta:same.txt") == "from B"


def test_sync_never_moves_local_head_or_touches_uncommitted_local_changes(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.commit("README", "rewritten in the pod", "pod edits README")
    before = repo_state(local_repo)

    code, _, err = sync("alpha", "--to", str(local_repo))

    assert code == 0, err
    after = repo_state(local_repo)
    assert after["head"] == before["head"]
    assert after["status"] == before["status"]
    assert after["index"] == before["index"]
    assert after["files"] == before["files"]
    assert (local_repo / "README").read_text() == "local edit, not committed\n"
    assert git(local_repo, "show", "gc/alpha:README") == "rewritten in the pod"


def test_sync_later_fast_forwards_the_session_branch(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    first = pod.commit("a.txt", "1", "one")
    assert sync("alpha", "--to", str(local_repo))[0] == 0
    second = pod.commit("a.txt", "2", "two")

    code, out, _ = sync("alpha", "--to", str(local_repo))

    assert code == 0
    assert f"fast-forwarded {first[:10]}..{second[:10]}" in out
    assert "+ " in out and "two" in out
    assert branch_commits(local_repo, "gc/alpha")[:2] == [second, first]


def test_syncing_again_with_nothing_new_changes_nothing_and_says_so(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.commit("a.txt", "A1", "A1")
    pod.sh('echo "not committed" > wip.txt')
    assert sync("alpha", "--to", str(local_repo))[0] == 0
    before = repo_state(local_repo)

    code, out, err = sync("alpha", "--to", str(local_repo))

    assert (code, err) == (0, "")
    assert "already up to date" in out and "nothing changed" in out
    assert repo_state(local_repo) == before


def test_uncommitted_pod_work_is_captured_as_a_wip_commit_without_touching_the_pod(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    head = pod.commit("tracked.txt", "committed", "commit")
    pod.sh('echo staged > staged.txt && git add staged.txt && echo modified > tracked.txt && '
           'echo untracked > new.txt && echo ignored > debug.log')
    pod_before = (pod.git("status", "--porcelain"), pod.git("rev-parse", "HEAD"),
                  pod.git("symbolic-ref", "HEAD"), (pod.workspace / ".git" / "index").read_bytes())

    code, out, err = sync("alpha", "--to", str(local_repo))

    assert code == 0, err
    assert "captured as WIP" in out
    tip = git(local_repo, "rev-parse", "gc/alpha")
    assert git(local_repo, "rev-parse", "gc/alpha^") == head
    assert git(local_repo, "show", "gc/alpha:tracked.txt") == "modified"
    assert git(local_repo, "show", "gc/alpha:staged.txt") == "staged"
    assert git(local_repo, "show", "gc/alpha:new.txt") == "untracked"
    assert "debug.log" not in git(local_repo, "ls-tree", "--name-only", tip)
    assert "WIP" in git(local_repo, "log", "-1", "--format=%s", tip)
    pod_after = (pod.git("status", "--porcelain"), pod.git("rev-parse", "HEAD"),
                 pod.git("symbolic-ref", "HEAD"), (pod.workspace / ".git" / "index").read_bytes())
    assert pod_after == pod_before
    assert tip not in pod.git("rev-list", "--all").split()


def test_a_later_commit_supersedes_the_wip_snapshot_and_keeps_it_under_a_hidden_ref(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.sh('echo draft > a.txt')
    assert sync("alpha", "--to", str(local_repo))[0] == 0
    wip = git(local_repo, "rev-parse", "gc/alpha")
    final = pod.commit("a.txt", "final", "finish a")

    code, out, err = sync("alpha", "--to", str(local_repo))

    assert code == 0, err
    assert git(local_repo, "rev-parse", "gc/alpha") == final
    assert git(local_repo, "rev-parse", f"refs/gc-sync/superseded/gc/alpha/{wip}") == wip
    assert "previous WIP snapshot" in out


def test_local_commits_missing_from_the_pod_refuse_with_one_line_and_change_nothing(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.commit("a.txt", "A1", "A1")
    assert sync("alpha", "--to", str(local_repo))[0] == 0
    # Someone commits on the local session branch (in a throwaway worktree).
    side = local_repo.parent / "side"
    git(local_repo, "worktree", "add", "-q", str(side), "gc/alpha")
    (side / "local.txt").write_text("local work\n")
    git(side, "add", "local.txt")
    git(side, "commit", "-q", "-m", "local work on the session branch")
    git(local_repo, "worktree", "remove", str(side))
    pod.commit("a.txt", "A2", "A2")
    before = repo_state(local_repo)

    code, out, err = sync("alpha", "--to", str(local_repo))

    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and "refusing" in err and "not in the pod's history" in err
    assert "local work on the session branch" in err
    assert repo_state(local_repo) == before


def test_syncing_a_second_pod_into_the_first_pods_branch_refuses_and_keeps_its_commits(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod_a = pods.start("alpha", pods.clone_of(base_repo))
    pod_b = pods.start("beta", pods.clone_of(base_repo))
    pod_a.commit("a.txt", "A1", "A1")
    a2 = pod_a.commit("a.txt", "A2", "A2")
    pod_b.commit("b.txt", "B1", "B1")
    assert sync("alpha", "--to", str(local_repo), "--branch", "shared")[0] == 0

    code, _, err = sync("beta", "--to", str(local_repo), "--branch", "shared")

    assert code == 1 and "2 commit(s) that are not in the pod's history" in err
    assert git(local_repo, "rev-parse", "shared") == a2


def test_history_rewritten_in_the_pod_refuses_instead_of_dropping_synced_commits(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.commit("a.txt", "A1", "A1")
    assert sync("alpha", "--to", str(local_repo))[0] == 0
    synced = git(local_repo, "rev-parse", "gc/alpha")
    pod.sh("git reset -q --hard HEAD~1")
    pod.commit("a.txt", "other", "rewritten")

    code, _, err = sync("alpha", "--to", str(local_repo))

    assert code == 1 and "refusing" in err and err.count("\n") == 1
    assert git(local_repo, "rev-parse", "gc/alpha") == synced


@pytest.mark.parametrize("state", ["merge", "rebase"])
def test_a_pod_repository_in_the_middle_of_a_merge_or_rebase_refuses(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync, state: str) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.sh("git checkout -q -b side")
    pod.commit("c.txt", "side", "side")
    pod.sh("git checkout -q main")
    pod.commit("c.txt", "main", "main")
    conflicted = "merge -q side" if state == "merge" else "rebase -q side"
    pod.sh(f"git -c user.name=A -c user.email=a@b {conflicted} >/dev/null 2>&1 || true")
    before = repo_state(local_repo)

    code, out, err = sync("alpha", "--to", str(local_repo))

    assert (code, out) == (1, "")
    assert f"middle of a {state}" in err and err.count("\n") == 1
    assert repo_state(local_repo) == before


def test_a_checked_out_session_branch_with_uncommitted_changes_refuses(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.commit("a.txt", "A1", "A1")
    assert sync("alpha", "--to", str(local_repo))[0] == 0
    git(local_repo, "stash", "-q", "-u")
    git(local_repo, "checkout", "-q", "gc/alpha")
    (local_repo / "a.txt").write_text("edited locally\n")
    pod.commit("a.txt", "A2", "A2")
    before = repo_state(local_repo)

    code, _, err = sync("alpha", "--to", str(local_repo))

    assert code == 1 and "checked out" in err and "uncommitted" in err
    assert err.count("\n") == 1
    assert repo_state(local_repo) == before


def test_a_checked_out_clean_session_branch_is_fast_forwarded_with_its_files(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.commit("a.txt", "A1", "A1")
    assert sync("alpha", "--to", str(local_repo))[0] == 0
    git(local_repo, "stash", "-q", "-u")
    git(local_repo, "checkout", "-q", "gc/alpha")
    a2 = pod.commit("a.txt", "A2", "A2")

    code, _, err = sync("alpha", "--to", str(local_repo))

    assert code == 0, err
    assert git(local_repo, "rev-parse", "HEAD") == a2
    assert (local_repo / "a.txt").read_text() == "A2\n"
    assert git(local_repo, "status", "--porcelain") == ""


def test_dry_run_reports_the_commits_and_wip_and_changes_nothing(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.commit("a.txt", "A1", "first pod commit")
    pod.sh("echo wip > wip.txt")
    before = repo_state(local_repo)
    pod_status = pod.git("status", "--porcelain")

    code, out, err = sync("alpha", "--to", str(local_repo), "--dry-run")

    assert code == 0, err
    assert "would be created" in out
    assert "first pod commit" in out
    assert "would be captured" in out and "wip.txt" in out
    assert out.rstrip().endswith("dry run: nothing changed")
    assert repo_state(local_repo) == before
    assert not list((local_repo / ".git").glob("gc-sync-*"))  # the staging area is gone
    assert pod.git("status", "--porcelain") == pod_status


def test_branch_option_names_the_local_branch(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    a1 = pod.commit("a.txt", "A1", "A1")

    code, _, err = sync("alpha", "--to", str(local_repo), "--branch", "review/alpha")

    assert code == 0, err
    assert git(local_repo, "rev-parse", "review/alpha") == a1
    assert git(local_repo, "branch", "--list", "gc/alpha") == ""


def test_sync_defaults_to_the_repository_of_the_current_directory(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync,
        monkeypatch: pytest.MonkeyPatch) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    a1 = pod.commit("a.txt", "A1", "A1")
    (local_repo / "sub").mkdir()
    monkeypatch.chdir(local_repo / "sub")

    assert sync("alpha")[0] == 0

    assert git(local_repo, "rev-parse", "gc/alpha") == a1


def test_sessions_whose_labels_collide_each_sync_from_their_own_pod(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    spaced = pods.start("a b", pods.clone_of(base_repo))
    dashed = pods.start("a-b", pods.clone_of(base_repo))
    from_spaced = spaced.commit("x.txt", "spaced", "from 'a b'")
    from_dashed = dashed.commit("x.txt", "dashed", "from 'a-b'")

    assert sync("a b", "--to", str(local_repo))[0] == 0
    assert sync("a-b", "--to", str(local_repo))[0] == 0

    assert git(local_repo, "rev-parse", session_branch("a b")) == from_spaced
    assert git(local_repo, "rev-parse", "gc/a-b") == from_dashed


def test_large_binary_work_comes_back_intact(
        pods: Pods, base_repo: Path, local_repo: Path, sync: Sync) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    pod.sh("head -c 4000000 /dev/urandom > blob.bin && git add blob.bin && "
           "git -c user.name=A -c user.email=a@b commit -q -m blob && "
           "head -c 1000000 /dev/urandom > wip.bin")
    expected = {name: hashlib.sha256((pod.workspace / name).read_bytes()).hexdigest()
                for name in ("blob.bin", "wip.bin")}

    code, _, err = sync("alpha", "--to", str(local_repo))

    assert code == 0, err
    for name, digest in expected.items():
        shown = subprocess.run(["git", "show", f"gc/alpha:{name}"], cwd=local_repo,
                               capture_output=True, check=True).stdout
        assert hashlib.sha256(shown).hexdigest() == digest


def test_the_gc_session_k8s_executable_runs_sync(
        pods: Pods, base_repo: Path, local_repo: Path) -> None:
    pod = pods.start("alpha", pods.clone_of(base_repo))
    a1 = pod.commit("a.txt", "A1", "A1")

    done = subprocess.run([*executable("gc-session-k8s"), "sync", "alpha", "--to",
                           str(local_repo)], capture_output=True, text=True, check=False,
                          env=dict(os.environ), timeout=120)

    assert done.returncode == 0, done.stderr
    assert "gc/alpha: created" in done.stdout
    assert git(local_repo, "rev-parse", "gc/alpha") == a1


def test_a_pod_repository_without_commits_or_files_has_nothing_to_sync(
        pods: Pods, local_repo: Path, sync: Sync) -> None:
    def empty_repo(into: Path) -> None:
        git(into.parent, "init", "-q", str(into))

    pods.start("alpha", empty_repo)
    before = repo_state(local_repo)

    code, out, err = sync("alpha", "--to", str(local_repo))

    assert (code, err) == (0, "") and "nothing to sync" in out
    assert repo_state(local_repo) == before


def test_files_in_a_pod_repository_without_commits_come_back_as_a_root_wip_commit(
        pods: Pods, local_repo: Path, sync: Sync) -> None:
    def fresh_repo(into: Path) -> None:
        git(into.parent, "init", "-q", str(into))
        (into / "draft.txt").write_text("first draft\n")

    pods.start("alpha", fresh_repo)

    code, out, err = sync("alpha", "--to", str(local_repo))

    assert code == 0, err
    assert "captured as WIP" in out
    assert git(local_repo, "show", "gc/alpha:draft.txt") == "first draft"
    assert git(local_repo, "rev-list", "--count", "gc/alpha") == "1"
    assert sync("alpha", "--to", str(local_repo))[1].count("already up to date") == 1


def test_a_session_without_a_pod_fails_with_one_line(pods: Pods, local_repo: Path,
                                                     sync: Sync) -> None:
    code, out, err = sync("nobody", "--to", str(local_repo))

    assert (code, out) == (1, "")
    assert err.startswith("gc-session-k8s sync: no pod for session 'nobody'")
    assert err.count("\n") == 1
