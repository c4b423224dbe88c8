"""The shell script `sync` runs in the pod: snapshot the work tree, stream a pack.

It never changes the pod's repository, index, work tree or branch: the work
tree is staged into a temporary index, and every new object (the WIP blobs,
trees and commit) goes into a temporary object directory that borrows the
repository's objects as an alternate; both are deleted on exit.

Arguments: ``$1`` work dir, ``$2`` session name, then the local repository's
candidate base commits (the pack leaves out whatever the pod also has of
them). Report lines go to stderr as ``gc-sync key=value``; the pack (only
when a snapshot was taken) goes to stdout.

The WIP commit is deterministic (fixed identity, HEAD's commit date, fixed
message), so an unchanged pod yields the same commit id on every sync.
"""

from __future__ import annotations

WIP_TRAILER = "Gc-Sync-Wip"
WIP_EMAIL = "gc-sync@localhost"
REPORT_PREFIX = "gc-sync "

SNAPSHOT_SCRIPT = r"""
set -u
say() { printf 'gc-sync %s\n' "$*" >&2; }
fail() { say "error=$*"; exit 3; }
g() { git -c safe.directory='*' -c commit.gpgsign=false -c core.quotepath=false "$@"; }
wd=$1 session=$2
shift 2
cd "$wd" 2>/dev/null || fail "work dir $wd does not exist in the pod"
command -v git >/dev/null 2>&1 || { say repo=no-git; exit 0; }
inside=$(g rev-parse --is-inside-work-tree 2>/dev/null) || { say repo=no; exit 0; }
[ "$inside" = true ] || { say repo=no; exit 0; }
top=$(g rev-parse --show-toplevel) || fail "cannot find the repository top level"
cd "$top" || fail "cannot enter $top"
say repo=yes
say top="$top"
for state in MERGE_HEAD:merge rebase-merge:rebase rebase-apply:rebase \
             CHERRY_PICK_HEAD:cherry-pick REVERT_HEAD:revert; do
    p=$(g rev-parse --git-path "${state%%:*}") || fail "cannot read the repository state"
    if [ -e "$p" ]; then say busy="${state#*:}"; exit 0; fi
done
if g rev-parse --is-shallow-repository 2>/dev/null | grep -q true; then
    say shallow=yes
fi
objects=$(cd "$(g rev-parse --git-path objects)" && pwd -P) || fail "cannot find the object store"
index=$(g rev-parse --git-path index)
tmp=$(mktemp -d) || fail "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/objects"
GIT_OBJECT_DIRECTORY=$tmp/objects
GIT_ALTERNATE_OBJECT_DIRECTORIES=$objects
GIT_INDEX_FILE=$tmp/index
export GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_INDEX_FILE
if [ -f "$index" ]; then cp "$index" "$tmp/index" || fail "cannot copy the index"; fi
head=$(g rev-parse -q --verify 'HEAD^{commit}') || head=
say head="$head"
say branch="$(g symbolic-ref -q --short HEAD)"
g add -A . 2>"$tmp/add.err" || fail "cannot snapshot the work tree: $(tr '\n' ' ' <"$tmp/add.err")"
tree=$(g write-tree) || fail "cannot write the snapshot tree"
if [ -z "$head" ] && [ -z "$(g ls-files | head -n 1)" ]; then
    say empty=yes
    exit 0
fi
if [ -n "$head" ] && [ "$tree" = "$(g rev-parse "$head^{tree}")" ]; then
    tip=$head
else
    if [ -n "$head" ]; then
        g diff --cached --no-renames --name-status "$head" >"$tmp/changed" || fail "cannot diff"
        date="$(g log -1 --format=%ct "$head") +0000"
    else
        g ls-files | sed 's/^/A\t/' >"$tmp/changed"
        date="946684800 +0000"
    fi
    while IFS= read -r line; do say changed="$line"; done <"$tmp/changed"
    GIT_AUTHOR_NAME='gc-session-k8s sync' GIT_AUTHOR_EMAIL='gc-sync@localhost'
    GIT_COMMITTER_NAME='gc-session-k8s sync' GIT_COMMITTER_EMAIL='gc-sync@localhost'
    GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date
    export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
    export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
    printf 'WIP: uncommitted work in the pod of session %s\n\n%s: %s\n' \
        "$session" 'Gc-Sync-Wip' "$session" >"$tmp/msg"
    if [ -n "$head" ]; then
        tip=$(g commit-tree "$tree" -p "$head" -F "$tmp/msg") || fail "cannot record the WIP commit"
    else
        tip=$(g commit-tree "$tree" -F "$tmp/msg") || fail "cannot record the WIP commit"
    fi
    say wip="$tip"
fi
say tip="$tip"
{
    printf '%s\n' "$tip"
    if [ "$#" -gt 0 ]; then
        printf '%s\n' "$@" | g cat-file --batch-check='%(objectname) %(objecttype)' |
            while read -r sha kind; do [ "$kind" = commit ] && printf '^%s\n' "$sha"; done
    fi
} >"$tmp/revs"
g pack-objects --revs --stdout -q <"$tmp/revs" || fail "cannot pack the session's commits"
"""


def snapshot_argv(work_dir: str, session: str, bases: list[str]) -> list[str]:
    """The argv for ``kubectl exec``: the script travels as one argument, values as $1…"""
    return ["sh", "-c", SNAPSHOT_SCRIPT, "gc-sync", work_dir, session, *bases]


def parse_report(stderr: bytes) -> tuple[dict[str, str], list[str], list[str]]:
    """Split the script's stderr into (single values, ``changed`` lines, other lines)."""
    values: dict[str, str] = {}
    changed: list[str] = []
    other: list[str] = []
    for raw in stderr.decode("utf-8", "replace").splitlines():
        if not raw.startswith(REPORT_PREFIX):
            if raw.strip():
                other.append(raw.strip())
            continue
        key, _, value = raw[len(REPORT_PREFIX) :].partition("=")
        if key == "changed":
            changed.append(value)
        else:
            values[key] = value
    return values, changed, other
