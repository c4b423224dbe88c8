"""Per-session git branches: the ref name for a session and the pod-side setup.

Every session commits on its own branch (``gc/<session>``) from the start, so
work from several pods that began at the same commit never has to share, or
fight over, one branch name; `gc_session_k8s.sync.command` brings each branch back.
"""

from __future__ import annotations

import hashlib

PREFIX = "gc/"
MAX_LEN = 200
HASH_LEN = 8
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/")

#: Run in the pod's work dir: switch to the session branch when it is a git
#: work tree, and do nothing otherwise. An existing branch is checked out, never
#: reset (`checkout -B` would drop its commits on a restarted pod), and a branch
#: already checked out is left alone. The branch arrives as ``$1``, never inside
#: the script text.
SETUP_SCRIPT = """\
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 0
[ "$(git symbolic-ref -q HEAD)" = "refs/heads/$1" ] && exit 0
if git show-ref --verify --quiet "refs/heads/$1"; then exec git checkout -q "$1"; fi
exec git checkout -q -b "$1"
"""


def _short_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:HASH_LEN]


def _clean_component(part: str) -> str:
    part = part.lstrip(".").rstrip(".")
    while ".." in part:
        part = part.replace("..", ".")
    if part.endswith(".lock"):
        part = part[: -len(".lock")] + "-lock"
    return part


def branch_suffix(name: str) -> str:
    """The part of the branch after ``gc/``: the name itself when it is a safe ref path.

    Anything git would reject (spaces, ``~^:?*[\\``, ``..``, ``@{``, a component
    starting with ``.`` or ending in ``.lock``, empty components) is replaced,
    and a lossy result gets a short hash of the raw name, so distinct sessions
    never share a branch.
    """
    mapped = "".join(c if c in _SAFE else "-" for c in name)
    parts = [_clean_component(p) for p in mapped.split("/")]
    cleaned = "/".join(p for p in parts if p)
    if cleaned == name and name and len(name) <= MAX_LEN:
        return name
    head = cleaned[: MAX_LEN - HASH_LEN - 1].rstrip("./-")
    head = "/".join(_clean_component(p) for p in head.split("/") if _clean_component(p))
    return f"{head}-{_short_hash(name)}" if head else f"session-{_short_hash(name)}"


def session_branch(name: str) -> str:
    """A valid git branch name for any session name: ``gc/<name>`` when safe."""
    return PREFIX + branch_suffix(name)


def branch_setup_argv(session_name: str) -> list[list[str]]:
    """What the k8s provider runs in the pod work dir at start (GC_K8S_SESSION_BRANCH).

    One ``sh -c`` argv: a no-op outside a git work tree, otherwise the agent
    ends up on ``gc/<session>`` (created at the current HEAD, or switched to if
    it already exists).
    """
    return [["sh", "-c", SETUP_SCRIPT, "gc-session-branch", session_branch(session_name)]]
