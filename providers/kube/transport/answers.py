"""Answers the helper keeps for a moment, so one exec serves a session's whole tick.

Every tick gc asks each session is-running (twice), process-alive and get-last-activity,
back to back; all three read one probe (`providers.tmux.session.probe`), the same
command. The helper keeps the answer to that read for ``GC_K8S_HELPER_CACHE_MS``
(default 1000 ms, at most 10 s; 0 turns it off), as gc's own tmux provider keeps its pane listing for
2 s, so a session's tick costs one exec into its pod instead of four. A kept answer is
never served:

* after a change we made to the pod. Every write exec, start and stop `mark` the pod
  when they end, whatever transport ran them: a file per pod in the runtime dir whose
  mtime is the pod's generation. A client sends the generation it saw with its request
  (`generation`), and only an answer taken at that generation serves it. The helper also
  drops a pod's answers itself when a write to that pod passes through it.
* past its time: a change no op of ours made (the agent exited, someone deleted the pod)
  shows at most that long later.

Hot path: `generation` is one ``stat``.
"""

from __future__ import annotations

import os
import time

from protocol import privdir
from providers.kube.transport import rundir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.proc import Result

#: The ops whose reads may be answered from a kept answer: the probe's three.
CACHED_OPS = frozenset({"is-running", "process-alive", "get-last-activity"})
DEFAULT_TTL_MS = 1000
#: A longer setting is cut to this: a kept answer is a moment's, not a tick's.
MAX_TTL_MS = 10_000
#: Characters a generation file's name may hold (namespaces and pod names are DNS names).
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


def _file(environ: dict[str, str] | None, namespace: str, pod: str) -> str | None:
    name = f"{namespace}.{pod}"
    if not namespace or not pod or not _SAFE.issuperset(name):
        return None  # no generation, so nothing is kept for it
    return os.path.join(rundir.path(environ), "gen." + name)


def generation(namespace: str, pod: str, environ: dict[str, str] | None = None) -> int | None:
    """The pod's generation as this client sees it; None: keep no answer for it."""
    path = _file(environ, namespace, pod)
    if path is None:
        return None
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return 0
    except OSError:
        return None


def generation_for(op: str, read: bool, namespace: str, pod: str,
                   environ: dict[str, str] | None = None) -> int | None:
    """The generation an exec of ``op`` carries to the helper: a read of one of
    `CACHED_OPS` may be answered from what it keeps; None: anything else never is."""
    return generation(namespace, pod, environ) if read and op in CACHED_OPS else None


def mark(namespace: str, pod: str, environ: dict[str, str] | None = None) -> None:
    """We changed the pod: answers kept before now no longer serve (best effort).

    Nothing is created where no runtime dir exists yet: without one no helper runs, and
    a helper that starts later keeps nothing from before it.
    """
    path = _file(environ, namespace, pod)
    if path is None:
        return
    try:
        rundir.check(os.path.dirname(path))  # a dir not ours alone gets nothing of ours
        fd = privdir.open_file(path, os.O_WRONLY | os.O_CREAT, 0o600, "generation file")
    except (OSError, privdir.Untrusted):
        return
    try:
        # An explicit, strictly increasing time: two marks within one clock tick of the
        # file system's own timestamps must still differ.
        stamp = max(time.time_ns(), os.fstat(fd).st_mtime_ns + 1)
        os.utime(fd, ns=(stamp, stamp))
    except OSError:
        pass
    finally:
        os.close(fd)


def prune(namespace: str, present: set[str], environ: dict[str, str] | None = None) -> int:
    """Remove the generation files of ``namespace``'s pods that are not ``present`` (gone);
    how many went. Cheap: one listing of the runtime dir, by `list-running`.

    Only files older than `MAX_TTL_MS` go: an answer kept before such a file's last mark
    has expired, so a pod whose file is gone (generation 0 again) is never answered from
    before it. A pod of another city in the namespace loses at worst that file, not an answer.
    """
    where = rundir.path(environ)
    head = f"gen.{namespace}."
    try:
        names = [name for name in os.listdir(where) if name.startswith(head)]
    except OSError:
        return 0
    if not names:
        return 0
    old = time.time_ns() - MAX_TTL_MS * 1_000_000
    gone = 0
    for name in names:
        if name[len(head):] in present:
            continue
        path = os.path.join(where, name)
        try:
            if os.lstat(path).st_mtime_ns < old:
                os.unlink(path)
                gone += 1
        except OSError:
            pass
    return gone


def ttl_seconds(environ: dict[str, str]) -> float:
    raw = environ.get("GC_K8S_HELPER_CACHE_MS", "")
    ms = int(raw) if raw.isdigit() else DEFAULT_TTL_MS
    return min(ms, MAX_TTL_MS) / 1000


class Kept:
    __slots__ = ("generation", "result", "taken")

    def __init__(self, generation: int, result: Result, taken: float) -> None:
        self.generation = generation
        self.result = result
        self.taken = taken


#: (cluster key, namespace, pod): the answers of one pod are dropped together.
PodKey = tuple[str, str, str]
#: (container, argv, stdin) within a pod.
AskKey = tuple[str, tuple[str, ...], bytes]


class Answers:
    """The helper's kept answers, per pod."""

    def __init__(self) -> None:
        import threading  # the helper's only: a hot op that marks a pod never loads it

        self.pods: dict[PodKey, dict[AskKey, Kept]] = {}
        self.lock = threading.Lock()
        self.hits = 0

    def get(self, pod: PodKey, ask: AskKey, generation: int, ttl: float) -> Result | None:
        now = time.monotonic()
        with self.lock:
            kept = self.pods.get(pod, {}).get(ask)
            if kept is None or kept.generation != generation or now - kept.taken > ttl:
                return None
            self.hits += 1
            return kept.result

    def put(self, pod: PodKey, ask: AskKey, generation: int, result: Result,
            taken: float) -> None:
        """``taken``: when the command was sent (the answer is as old as that)."""
        with self.lock:
            self.pods.setdefault(pod, {})[ask] = Kept(generation, result, taken)

    def forget(self, pod: PodKey) -> None:
        with self.lock:
            self.pods.pop(pod, None)

    def reap(self, older_than: float) -> None:
        """Drop answers taken more than ``older_than`` seconds ago (none serves any more)."""
        now = time.monotonic()
        with self.lock:
            for pod, asks in list(self.pods.items()):
                for ask in [a for a, kept in asks.items() if now - kept.taken > older_than]:
                    del asks[ask]
                if not asks:
                    del self.pods[pod]

    def count(self) -> int:
        with self.lock:
            return sum(len(asks) for asks in self.pods.values())
