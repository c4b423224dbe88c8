"""`gc-session-k8s sync`: bring an agent's work back from its pod without losing any.

    gc-session-k8s sync <session> [--to DIR] [--branch NAME] [--dry-run]

A git work dir comes back as git objects onto a per-session branch
(``gc/<session>`` by default) of the local repository, with uncommitted pod
work as a WIP commit on top; the local HEAD, index, work tree and other
branches are never touched. A plain work dir comes back as files into their
own directory, with the files that differ from local copies listed. Whenever
going on could lose data, sync refuses with one line and exits 1.

A human command, never called by Gas City: argparse is fine here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from protocol.errors import ProviderError, UsageError

PROG = "gc-session-k8s sync"
DEFAULT_TIMEOUT = 600.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Bring a session's work back from its pod: git commits onto a per-session "
        "branch (uncommitted work as a WIP commit), or files into .gc-sync/<session>/ when the "
        "work dir is not a git repository. Nothing local is overwritten.",
    )
    parser.add_argument("session", help="the Gas City session name")
    parser.add_argument("--to", metavar="DIR", default="",
                        help="local repository (or directory) to sync into; default: here")
    parser.add_argument("--branch", metavar="NAME", default="",
                        help="local branch to update; default: gc/<session>")
    parser.add_argument("--dry-run", action="store_true",
                        help="say what would change, change nothing")
    parser.add_argument("--pod-dir", metavar="PATH", default="",
                        help="work dir in the pod; default: the agent container's workingDir")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=DEFAULT_TIMEOUT,
                        help="limit for the transfer from the pod (default %(default)g)")
    return parser


def run_sync(args: argparse.Namespace) -> list[str]:
    from gc_session_k8s.branches import session_branch
    from gc_session_k8s.sync.files import sync_files
    from gc_session_k8s.sync.git import NotGit, sync_git
    from gc_session_k8s.sync.local_repo import LocalRepo
    from gc_session_k8s.sync.pod import find_session_pod

    base = os.path.abspath(args.to or str(Path.cwd()))
    if args.to and os.path.exists(base) and not os.path.isdir(base):
        raise UsageError(f"--to {args.to}: not a directory")
    pod = find_session_pod(args.session, work_dir=args.pod_dir)
    repo = LocalRepo.open(base) if os.path.isdir(base) else None
    if repo is not None:
        try:
            return sync_git(pod, args.session, repo, args.branch or session_branch(args.session),
                            dry_run=args.dry_run, timeout=args.timeout)
        except NotGit as not_git:
            why = not_git.why
    else:
        from gc_session_k8s.sync.git import NothingToSync, take_snapshot

        try:
            take_snapshot(pod, args.session, [], args.timeout)
        except NotGit as not_git:
            why = not_git.why
        except NothingToSync as empty:
            return [str(empty)]
        else:
            raise ProviderError(
                f"the pod's work dir is a git repository but {base} is not inside one; "
                "pass --to a local clone (or run `git init` there)")
    return sync_files(pod, args.session, base, to_given=bool(args.to), dry_run=args.dry_run,
                      timeout=args.timeout, why=why)


def main(argv: list[str]) -> int:
    """Entry point: ``argv`` excludes the program and the word ``sync``."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        sys.stderr.write(f"{PROG}: {error}\n")
        return 1
    except SystemExit as done:  # --help
        return int(done.code or 0)
    try:
        lines = run_sync(args)
    except ProviderError as error:
        sys.stderr.write(f"{PROG}: {' '.join(str(error).split())}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 1
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
