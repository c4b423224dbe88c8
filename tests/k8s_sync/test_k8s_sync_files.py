"""`gc-session-k8s sync` for a work dir that is not a git repository: files, never overwritten."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from k8s_sync_helpers import Pods, git, repo_state

Sync = Callable[..., tuple[int, str, str]]


def plain_workspace(into: Path) -> None:
    (into / "src").mkdir(parents=True)
    (into / "src" / "main.py").write_text("print('pod')\n")
    (into / "shared.txt").write_text("pod version\n")
    (into / "same.txt").write_text("identical\n")


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_files_come_back_into_their_own_directory_and_differing_local_files_are_listed(
        pods: Pods, tmp_path: Path, sync: Sync) -> None:
    pods.start("alpha", plain_workspace)
    local = tmp_path / "here"
    local.mkdir()
    (local / "shared.txt").write_text("my version\n")
    (local / "same.txt").write_text("identical\n")

    code, out, err = sync("alpha", "--to", str(local))

    assert code == 0, err
    copy = local / ".gc-sync" / "alpha"
    assert tree(copy) == {"src/main.py": "print('pod')\n", "shared.txt": "pod version\n",
                          "same.txt": "identical\n"}
    assert (local / "shared.txt").read_text() == "my version\n"  # never overwritten
    assert "differs: shared.txt" in out
    assert "same.txt" not in out
    assert "1 file(s) differ" in out and "exist only in the pod" in out


def test_files_go_straight_into_an_empty_to_directory(pods: Pods, tmp_path: Path,
                                                      sync: Sync) -> None:
    pods.start("alpha", plain_workspace)
    target = tmp_path / "fresh"

    code, out, err = sync("alpha", "--to", str(target))

    assert code == 0, err
    assert tree(target) == {"src/main.py": "print('pod')\n", "shared.txt": "pod version\n",
                            "same.txt": "identical\n"}
    assert "differ" not in out
    again = sync("alpha", "--to", str(target))
    assert again[0] == 0 and "nothing changed" in again[1]
    assert not (target / ".gc-sync").exists()


def test_syncing_files_again_with_nothing_new_changes_nothing(pods: Pods, tmp_path: Path,
                                                              sync: Sync) -> None:
    pods.start("alpha", plain_workspace)
    local = tmp_path / "here"
    local.mkdir()
    (local / "mine.txt").write_text("unrelated local file\n")
    assert sync("alpha", "--to", str(local))[0] == 0
    before = tree(local)

    code, out, _ = sync("alpha", "--to", str(local))

    assert code == 0 and "nothing changed" in out
    assert tree(local) == before
    assert sorted(p.name for p in (local / ".gc-sync").iterdir()) == [".gitignore", "alpha"]


def test_a_changed_pod_keeps_the_previous_copy_aside(pods: Pods, tmp_path: Path,
                                                     sync: Sync) -> None:
    pod = pods.start("alpha", plain_workspace)
    local = tmp_path / "here"
    local.mkdir()
    (local / "mine.txt").write_text("unrelated local file\n")
    assert sync("alpha", "--to", str(local))[0] == 0
    pod.sh("echo changed > shared.txt")

    code, out, err = sync("alpha", "--to", str(local))

    assert code == 0, err
    assert (local / ".gc-sync" / "alpha" / "shared.txt").read_text() == "changed\n"
    kept = [p for p in (local / ".gc-sync").iterdir() if p.name.startswith("alpha.")]
    assert len(kept) == 1 and (kept[0] / "shared.txt").read_text() == "pod version\n"
    assert "previous copy is kept" in out


def test_files_dry_run_lists_conflicts_and_writes_nothing(pods: Pods, tmp_path: Path,
                                                          sync: Sync) -> None:
    pods.start("alpha", plain_workspace)
    local = tmp_path / "here"
    local.mkdir()
    (local / "shared.txt").write_text("my version\n")

    code, out, err = sync("alpha", "--to", str(local), "--dry-run")

    assert code == 0, err
    assert "would be copied" in out and "differs: shared.txt" in out
    assert out.rstrip().endswith("dry run: nothing changed")
    assert tree(local) == {"shared.txt": "my version\n"}
    assert not (local / ".gc-sync").exists()


def test_a_plain_pod_work_dir_into_a_git_repo_leaves_the_repo_clean(
        pods: Pods, local_repo: Path, sync: Sync) -> None:
    pods.start("alpha", plain_workspace)
    before = repo_state(local_repo)

    code, _, err = sync("alpha", "--to", str(local_repo))

    assert code == 0, err
    after = repo_state(local_repo)
    assert after["status"] == before["status"]  # .gc-sync/ ignores itself
    assert after["refs"] == before["refs"] and after["head"] == before["head"]
    assert (local_repo / ".gc-sync" / "alpha" / "shared.txt").exists()
    assert git(local_repo, "branch", "--list", "gc/alpha") == ""


def test_a_git_pod_into_a_plain_local_directory_refuses(pods: Pods, base_repo: Path,
                                                        tmp_path: Path, sync: Sync) -> None:
    pods.start("alpha", pods.clone_of(base_repo))
    plain = tmp_path / "plain"
    plain.mkdir()

    code, _, err = sync("alpha", "--to", str(plain))

    assert code == 1 and "not inside one" in err and err.count("\n") == 1
    assert list(plain.iterdir()) == []
