"""The local repository `sync` writes into: git, run as argv, one call at a time.

Incoming objects are first indexed into a *staging* object directory that
borrows the repository's objects (``GIT_OBJECT_DIRECTORY`` +
``GIT_ALTERNATE_OBJECT_DIRECTORIES``), so a refusal or a dry run leaves the
repository byte-for-byte as it was; only an accepted sync moves the pack in.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from protocol.errors import ProviderError
from protocol.proc import Result, run


class GitFailed(ProviderError):
    """A local git command failed."""


class Worktree:
    """One entry of ``git worktree list --porcelain``."""

    __slots__ = ("branch", "path")

    def __init__(self, path: str, branch: str) -> None:
        self.path = path
        self.branch = branch


class LocalRepo:
    """A local git repository (``top`` is its work tree, or the git dir when bare)."""

    def __init__(self, top: str, git_dir: str, objects: str) -> None:
        self.top = top
        self.git_dir = git_dir
        self.objects = objects
        self.staging: str | None = None

    @classmethod
    def open(cls, path: str) -> LocalRepo | None:
        """The repository containing ``path``, or None when there is none."""
        probe = run(["git", "rev-parse", "--absolute-git-dir", "--git-path", "objects"], cwd=path)
        if not probe.ok:
            return None
        git_dir, objects = probe.text().splitlines()[:2]
        objects = str(Path(path, objects))  # an absolute second part wins
        work_tree = run(["git", "rev-parse", "--show-toplevel"], cwd=path)
        top = work_tree.text().strip() if work_tree.ok and work_tree.text().strip() else git_dir
        return cls(top, git_dir, os.path.realpath(objects))

    # -- running git ---------------------------------------------------------
    def _env(self, staged: bool) -> dict[str, str] | None:
        if not (staged and self.staging):
            return None
        env = dict(os.environ)
        env["GIT_OBJECT_DIRECTORY"] = self.staging
        env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = self.objects
        return env

    def run(self, *args: str, stdin: bytes | None = None, cwd: str | None = None,
            staged: bool = True) -> Result:
        """``git args`` in the repository (seeing staged objects unless told not to)."""
        return run(["git", *args], stdin=stdin, cwd=cwd or self.top, env=self._env(staged))

    def git(self, *args: str, stdin: bytes | None = None, cwd: str | None = None,
            staged: bool = True) -> str:
        """``git args``; stdout stripped; a failure raises `GitFailed` with git's reason."""
        result = self.run(*args, stdin=stdin, cwd=cwd, staged=staged)
        if not result.ok:
            raise GitFailed(f"git {' '.join(args[:2])}: {result.error_text() or 'failed'}")
        return result.text().strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args).ok

    # -- refs and history ------------------------------------------------------
    def resolve(self, ref: str) -> str | None:
        result = self.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}")
        return result.text().strip() if result.ok else None

    def has_commit(self, sha: str) -> bool:
        return self.ok("cat-file", "-e", f"{sha}^{{commit}}")

    def is_ancestor(self, old: str, new: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", old, new)

    def base_candidates(self, limit: int = 200) -> list[str]:
        """Local tips the pod may share (HEAD, branches, remote branches): pack only the rest."""
        found: list[str] = []
        head = self.resolve("HEAD")
        if head:
            found.append(head)
        out = self.run("for-each-ref", "--format=%(objectname)", "--sort=-committerdate",
                       "refs/heads", "refs/remotes", "refs/tags").text()
        for sha in out.split():
            if sha not in found:
                found.append(sha)
        return found[:limit]

    def commits_between(self, tip: str, exclude: list[str], limit: int = 20) -> list[str]:
        """``<short sha> <subject>`` of commits in ``tip`` but in none of ``exclude``."""
        args = ["log", f"--max-count={limit}", "--format=%h %s", tip]
        if exclude:
            args += ["--not", *exclude]
        return self.git(*args).splitlines()

    def count_between(self, tip: str, exclude: list[str]) -> int:
        args = ["rev-list", "--count", tip]
        if exclude:
            args += ["--not", *exclude]
        return int(self.git(*args) or "0")

    def message(self, sha: str) -> str:
        return self.git("log", "-1", "--format=%ae%n%B", sha)

    def parents(self, sha: str) -> list[str]:
        return self.git("rev-list", "--parents", "-n", "1", sha).split()[1:]

    def worktrees(self) -> list[Worktree]:
        out = self.run("worktree", "list", "--porcelain").text()
        found: list[Worktree] = []
        path = ""
        for line in [*out.splitlines(), ""]:
            if line.startswith("worktree "):
                path = line[len("worktree ") :]
            elif line.startswith("branch "):
                found.append(Worktree(path, line[len("branch ") :]))
        return found

    def worktree_is_clean(self, path: str) -> bool:
        status = run(["git", "status", "--porcelain", "--untracked-files=normal"], cwd=path)
        return status.ok and not status.out.strip()

    def rebasing_branch(self, path: str) -> str:
        """The branch a rebase in the worktree at ``path`` is rewriting, or ""."""
        for state in ("rebase-merge/head-name", "rebase-apply/head-name"):
            where = run(["git", "rev-parse", "--git-path", state], cwd=path)
            name = where.text().strip()
            if where.ok and name:
                try:
                    return Path(path, name).read_text().strip()
                except OSError:
                    continue
        return ""

    # -- incoming objects ----------------------------------------------------
    def stage_pack(self, pack: bytes) -> None:
        """Index ``pack`` into a fresh staging object directory inside the git dir."""
        self.drop_staging()
        self.staging = tempfile.mkdtemp(prefix="gc-sync-objects-", dir=self.git_dir)
        Path(self.staging, "pack").mkdir()
        if pack:
            self.git("index-pack", "--stdin", stdin=pack)

    def adopt_staged_objects(self) -> None:
        """Move the staged pack into the repository (pack first, index last, as git does)."""
        if not self.staging:
            return
        target = Path(self.objects, "pack")
        target.mkdir(parents=True, exist_ok=True)
        incoming = sorted(Path(self.staging, "pack").iterdir(), key=lambda p: p.suffix == ".idx")
        for path in incoming:
            path.replace(target / path.name)
        self.drop_staging()

    def drop_staging(self) -> None:
        if self.staging:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def update_ref(self, ref: str, new: str, old: str | None, reason: str) -> None:
        """Compare-and-swap ``ref`` from ``old`` (None: must not exist) to ``new``."""
        self.git("update-ref", "-m", reason, ref, new, old or "", staged=False)
