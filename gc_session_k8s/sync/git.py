"""Bring a pod's git work back onto a per-session branch, losing nothing.

Outcomes for the local branch (``refs/heads/<branch>``), decided with the
pod's objects staged but not yet adopted:

* missing: created at the pod's tip;
* equal to the tip: nothing to do ("already up to date");
* an ancestor of the tip: fast-forwarded;
* a WIP snapshot taken by an earlier sync whose base is in the pod's history:
  replaced, and the old snapshot kept at ``refs/gc-sync/superseded/…``;
* anything else (commits the pod does not have): refused, nothing changed.

The pod's tip is its HEAD, or a WIP commit on top of it when the work tree has
uncommitted (modified, staged or untracked non-ignored) files.
"""

from __future__ import annotations

from gc_session_k8s.sync.local_repo import GitFailed, LocalRepo
from gc_session_k8s.sync.pod_script import WIP_EMAIL, WIP_TRAILER, parse_report, snapshot_argv
from protocol.errors import ProviderError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gc_session_k8s.sync.pod import PodRef

SUPERSEDED = "refs/gc-sync/superseded/"
SHOWN = 20


class Refusal(ProviderError):
    """Going on could lose data: nothing was changed (exit 1, one line)."""


class NotGit(Exception):
    """The pod's work dir is not a git work tree (or the pod has no git)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class NothingToSync(Exception):
    """The pod's repository holds no commits and no files: a success with nothing to do."""


class PodSnapshot:
    """What the pod reported: its tip, HEAD, branch, WIP commit and changed files."""

    __slots__ = ("branch", "changed", "head", "pack", "tip", "wip")

    def __init__(self, values: dict[str, str], changed: list[str], pack: bytes) -> None:
        self.tip = values["tip"]
        self.head = values.get("head", "")
        self.branch = values.get("branch", "")
        self.wip = values.get("wip", "")
        self.changed = changed
        self.pack = pack


def take_snapshot(pod: PodRef, session: str, bases: list[str], timeout: float) -> PodSnapshot:
    """Run the snapshot script in the pod; raise `NotGit`, `Refusal` or a `ProviderError`."""
    result = pod.exec(snapshot_argv(pod.work_dir, session, bases), timeout=timeout)
    values, changed, other = parse_report(result.err)
    if "error" in values:
        raise ProviderError(f"pod {pod.name}: {values['error']}")
    if result.rc != 0 and not values.get("repo"):
        detail = " ".join(other) or f"exit code {result.rc}"
        raise ProviderError(f"pod {pod.name}: cannot run the sync script ({detail})")
    if values.get("repo") == "no-git":
        raise NotGit("git is not installed in the pod")
    if values.get("repo") != "yes":
        raise NotGit(f"{pod.work_dir} is not a git work tree in the pod")
    if values.get("busy"):
        raise Refusal(f"refusing: the pod's repository is in the middle of a {values['busy']}; "
                      "finish or abort it in the pod, then sync again (nothing changed)")
    if values.get("empty"):
        raise NothingToSync(f"the pod's repository in {pod.work_dir} has no commits and no files "
                            "yet: nothing to sync (nothing changed)")
    if result.rc != 0 or "tip" not in values:
        detail = " ".join(other) or f"exit code {result.rc}"
        raise ProviderError(f"pod {pod.name}: the snapshot failed ({detail})")
    return PodSnapshot(values, changed, result.out)


def _is_sync_wip(repo: LocalRepo, sha: str) -> bool:
    email, _, body = repo.message(sha).partition("\n")
    return email == WIP_EMAIL and f"\n{WIP_TRAILER}: " in f"\n{body}"


def check_local_branch(repo: LocalRepo, ref: str) -> str:
    """Refuse when updating ``ref`` could clobber local work; the worktree holding it, or ""."""
    holder = ""
    for tree in repo.worktrees():
        if repo.rebasing_branch(tree.path) == ref:
            raise Refusal(f"refusing: local branch {ref.removeprefix('refs/heads/')} is being "
                          f"rebased in {tree.path}; finish the rebase first (nothing changed)")
        if tree.branch == ref:
            holder = tree.path
    if holder and not repo.worktree_is_clean(holder):
        raise Refusal(f"refusing: local branch {ref.removeprefix('refs/heads/')} is checked out "
                      f"in {holder} with uncommitted changes; commit or stash them, or sync "
                      "into another --branch (nothing changed)")
    return holder


def _short(sha: str) -> str:
    return sha[:10]


class SyncPlan:
    """What a sync will do to the branch, and how to say it."""

    def __init__(self, action: str, old: str | None, tip: str) -> None:
        self.action = action  # "create", "up-to-date", "fast-forward", "replace-wip"
        self.old = old
        self.tip = tip


def plan(repo: LocalRepo, ref: str, old: str | None, tip: str) -> SyncPlan:
    """Decide (objects staged) what happens to ``ref``; raise `Refusal` if work would be lost."""
    if old == tip:
        return SyncPlan("up-to-date", old, tip)
    if old is None:
        return SyncPlan("create", old, tip)
    if repo.is_ancestor(old, tip):
        return SyncPlan("fast-forward", old, tip)
    if _is_sync_wip(repo, old) and all(repo.is_ancestor(p, tip) for p in repo.parents(old)):
        return SyncPlan("replace-wip", old, tip)
    base = old
    if _is_sync_wip(repo, old):
        base = repo.parents(old)[0] if repo.parents(old) else old
    missing = repo.count_between(base, [tip])
    first = repo.commits_between(base, [tip], 1)
    example = f" (e.g. {first[0]})" if first else ""
    raise Refusal(
        f"refusing: local branch {ref.removeprefix('refs/heads/')} has {missing} commit(s) that "
        f"are not in the pod's history{example}; sync into another --branch, or bring those "
        "commits into the pod first (nothing changed)"
    )


def describe(repo: LocalRepo, branch: str, the_plan: SyncPlan, snap: PodSnapshot,
             bases: list[str], *, dry_run: bool) -> list[str]:
    """Human lines: the outcome, the commits that arrive, the captured WIP."""
    would = "would be " if dry_run else ""
    tip, old = the_plan.tip, the_plan.old
    if the_plan.action == "up-to-date":
        return [f"{branch}: already up to date at {_short(tip)} (nothing changed)"]
    exclude = [old] if old else bases
    if the_plan.action == "replace-wip" and old:
        exclude = repo.parents(old) or bases
    head = snap.head or tip
    new = repo.count_between(head, exclude) if snap.head else 0
    lines = {
        "create": f"{branch}: {would}created at {_short(tip)}",
        "fast-forward": f"{branch}: {would}fast-forwarded {_short(old or '')}..{_short(tip)}",
        "replace-wip": (f"{branch}: {would}moved {_short(old or '')}..{_short(tip)}; the previous "
                        f"WIP snapshot {would or 'is '}kept at {SUPERSEDED}{branch}/{old}"),
    }
    out = [lines[the_plan.action]]
    if snap.head and new:
        out.append(f"  {new} commit(s) from the pod {would}added:")
        out += [f"    + {line}" for line in repo.commits_between(head, exclude, SHOWN)]
        if new > SHOWN:
            out.append(f"    … and {new - SHOWN} more")
    if snap.wip:
        verb = "would be captured" if dry_run else "captured"
        out.append(f"  uncommitted work in the pod ({len(snap.changed)} file(s)) {verb} as WIP "
                   f"commit {_short(snap.wip)}:")
        out += [f"    {line.replace(chr(9), '  ')}" for line in snap.changed[:SHOWN]]
        if len(snap.changed) > SHOWN:
            out.append(f"    … and {len(snap.changed) - SHOWN} more")
    return out


def apply(repo: LocalRepo, ref: str, the_plan: SyncPlan, holder: str, session: str) -> None:
    """Adopt the staged objects and move the branch (compare-and-swap)."""
    if the_plan.action == "up-to-date":
        return
    repo.adopt_staged_objects()
    branch = ref.removeprefix("refs/heads/")
    if the_plan.action == "replace-wip" and the_plan.old:
        repo.git("update-ref", "-m", "gc sync: superseded WIP snapshot",
                 f"{SUPERSEDED}{branch}/{the_plan.old}", the_plan.old, staged=False)
    if holder:
        if repo.git("rev-parse", "HEAD", cwd=holder, staged=False) != the_plan.old:
            raise Refusal(f"refusing: local branch {branch} moved during the sync "
                          "(nothing changed)")
        if not repo.worktree_is_clean(holder):
            raise Refusal(f"refusing: local branch {branch} is checked out in {holder} with "
                          "uncommitted changes (nothing changed)")
        how = ["merge", "--ff-only", "-q"] if the_plan.action == "fast-forward" else [
            "reset", "-q", "--keep"]
        repo.git(*how, the_plan.tip, cwd=holder, staged=False)
        return
    try:
        repo.update_ref(ref, the_plan.tip, the_plan.old, f"gc sync: session {session}")
    except GitFailed as error:
        raise Refusal(f"refusing: local branch {branch} changed during the sync ({error}); "
                      "run sync again") from error


def sync_git(pod: PodRef, session: str, repo: LocalRepo, branch: str, *, dry_run: bool,
             timeout: float) -> list[str]:
    """The whole git sync; returns the lines to print. Raises `NotGit` for a plain work dir."""
    ref = f"refs/heads/{branch}"
    if not repo.ok("check-ref-format", ref):
        raise ProviderError(f"{branch!r} is not a valid branch name")
    holder = check_local_branch(repo, ref)
    old = repo.resolve(ref)
    bases = repo.base_candidates()
    try:
        snap = take_snapshot(pod, session, bases, timeout)
    except NothingToSync as empty:
        return [str(empty)]
    try:
        if not repo.has_commit(snap.tip):
            repo.stage_pack(snap.pack)
            if not repo.has_commit(snap.tip):
                raise ProviderError(f"pod {pod.name}: the pack from the pod lacks commit "
                                    f"{snap.tip}")
            complete = repo.run("rev-list", "--objects", "--quiet", snap.tip, "--not", *bases)
            if not complete.ok:
                raise ProviderError(f"pod {pod.name}: the pod's history is incomplete (a shallow "
                                    f"clone in the pod?): {complete.error_text()}")
        the_plan = plan(repo, ref, old, snap.tip)
        lines = describe(repo, branch, the_plan, snap, bases, dry_run=dry_run)
        if dry_run:
            lines.append("dry run: nothing changed")
        else:
            apply(repo, ref, the_plan, holder, session)
        return lines
    finally:
        repo.drop_staging()
