"""Staging: the work dir, pack overlays, overlay_dir and copy_files as ONE tar stream.

The tar is built in memory and piped to ``tar -x`` in the ``stage`` init
container (``kubectl exec -i <pod> -c stage``), so there is no Secret or
ConfigMap size limit and only one exec. Its last member is the sentinel
``.gc-ready``, which lets the init container finish and the agent start.

Paths: the work dir and overlays land in the pod work dir; copy_files'
``rel_dst`` is relative to /workspace, as both upstream k8s implementations
and Gas City's container staging expect (session-protocol.md §3.6).

Extraction lets a later member overwrite an earlier one, but known provider
settings files (``.claude/settings.json`` and the like) must be JSON-merged
across layers as the tmux provider merges them on disk. So every file at such
a path is held back, merged on the host (`providers.tmux.settings_merge`), and
written once just before the sentinel.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
from typing import NamedTuple

from gc_session_k8s.pod.environment import WORKSPACE, under
from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.config import StartConfig

SENTINEL = ".gc-ready"
#: Marks a workspace that was staged once. A persistent workspace (GC_K8S_WORKSPACE_PVC)
#: keeps the agent's work across restarts: a later start must not overwrite it with the
#: host's older copies, so it only lets the stage container finish.
STAGED = ".gc-staged"
#: The stage container's side of the stream ($1: /workspace).
UNPACK_ONCE = f"""\
if [ -e "$1/{STAGED}" ]; then cat > /dev/null && : > "$1/{SENTINEL}"; exit; fi
exec tar -x -o -f - -C "$1"
"""
#: Directories never staged wholesale (G-19): their content is not the agent's.
TMP_LIKE = ("/tmp", "/var/tmp", "/dev/shm", "/private/tmp", "/run", "/var/run")


def safe_rel(rel: str) -> str:
    """A normalized relative path; absolute paths and ``..`` components are refused."""
    if "\0" in rel or rel.startswith("/"):
        raise UsageError(f"destination must be a relative path: {rel!r}")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"destination must not contain '..': {rel!r}")
    return "/".join(parts)


def is_tmp_like(path: str) -> bool:
    real = os.path.realpath(path)
    candidates = {os.path.realpath(p) for p in (*TMP_LIKE, tempfile.gettempdir())}
    return real == "/" or real in candidates


def work_dir_source(cfg: StartConfig, city: str) -> str:
    """The host work dir to stage, or "" (missing, /tmp-like, root, or the city root)."""
    wd = cfg.work_dir
    if not wd or not os.path.isdir(wd) or is_tmp_like(wd):
        return ""
    if city and under(wd, city) == "":
        return ""  # never the whole city root
    return wd


def needs_staging(cfg: StartConfig, city: str, pod_work_dir: str = WORKSPACE) -> bool:
    """Anything to copy in, or a pod work dir below /workspace to create.

    A ``workingDir`` that does not exist is created by the container runtime as
    root (containerd), which a non-root agent then cannot write to (gascity
    #4719); created by the stage container, it belongs to the pod's user.
    """
    overlays = [d for d in (*cfg.pack_overlay_dirs, cfg.overlay_dir) if d and os.path.isdir(d)]
    files = [e for e in cfg.copy_files if e.src and os.path.exists(e.src)]
    return bool(work_dir_source(cfg, city) or overlays or files or pod_work_dir != WORKSPACE)


class Held(NamedTuple):
    """A file written by `TarStream.close` (its content may still be merged into)."""

    data: bytes
    mode: int
    mtime: int


class TarStream:
    """An in-memory tar whose member names are relative to /workspace.

    With ``merge_settings``, files that a later layer could JSON-merge into are
    held until `close`, so each is written once with its final content.
    """

    def __init__(self, *, merge_settings: bool = False) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.TarFile(fileobj=self.buffer, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs: set[str] = set()
        self.held: dict[str, Held] | None = {} if merge_settings else None

    def _member(self, name: str, mode: int, mtime: float) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = mode
        info.mtime = int(mtime)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def _info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        return self._member(name, stat.S_IMODE(st.st_mode), st.st_mtime)

    def add_dir_entry(self, name: str, st: os.stat_result | None = None) -> None:
        if not name or name in self.dirs:
            return
        parent = os.path.dirname(name)
        if parent:
            self.add_dir_entry(parent)
        info = self._info(name, st or os.stat("/"))
        info.type = tarfile.DIRTYPE
        info.mode = stat.S_IMODE(st.st_mode) if st else 0o755
        self.tar.addfile(info)
        self.dirs.add(name)

    def add_file(self, src: str, name: str, merge_rel: str = "") -> None:
        """A regular file (symlinks followed); other kinds are skipped.

        ``merge_rel`` is its path below the root of a tree whose settings files
        merge into what is already there (empty: it simply replaces it).
        """
        try:
            st = os.stat(src)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            return
        self.add_dir_entry(os.path.dirname(name))
        if self.held is not None:
            from providers.tmux import settings_merge  # start only: keeps copy-to/exec light

            if name in self.held or settings_merge.lands_on_mergeable(name):
                self._hold(self.held, src, name, st, merge_rel)
                return
        info = self._info(name, st)
        info.size = st.st_size
        with open(src, "rb") as f:
            self.tar.addfile(info, f)

    def _hold(self, held: dict[str, Held], src: str, name: str, st: os.stat_result,
              merge_rel: str) -> None:
        from providers.tmux import settings_merge

        with open(src, "rb") as f:
            data = f.read()
        before = held.get(name)
        mode = stat.S_IMODE(st.st_mode)
        if merge_rel and settings_merge.is_mergeable(merge_rel):
            data = settings_merge.staged(merge_rel, data, before.data if before else None)
            mode = before.mode if before else mode  # a merged file keeps its mode, as on disk
        held[name] = Held(data, mode, int(st.st_mtime))

    def add_tree(self, src: str, prefix: str, skip_top: frozenset[str] = frozenset(), *,
                 merge: bool = False) -> None:
        """Merge ``src``'s contents under ``prefix`` (symlinked dirs followed, loops cut).

        ``merge``: its known settings files JSON-merge into earlier layers'.
        """
        seen: set[tuple[int, int]] = set()

        def walk(path: str, name: str, rel: str, top: bool) -> None:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) in seen:
                return
            seen.add((st.st_dev, st.st_ino))
            if name:
                self.add_dir_entry(name, st)
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                if top and entry.name in skip_top:
                    continue
                child = f"{name}/{entry.name}" if name else entry.name
                child_rel = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    if entry.is_dir(follow_symlinks=True):
                        walk(entry.path, child, child_rel, False)
                    else:
                        self.add_file(entry.path, child, child_rel if merge else "")
                except OSError:
                    continue

        walk(src, prefix, "", True)

    def close(self, *, markers: tuple[str, ...] = (SENTINEL,)) -> bytes:
        """The finished tar; ``markers`` are empty files written last, in order."""
        for name, held in (self.held or {}).items():
            info = self._member(name, held.mode, held.mtime)
            info.size = len(held.data)
            self.tar.addfile(info, io.BytesIO(held.data))
        for marker in markers:
            info = tarfile.TarInfo(marker)
            info.mode = 0o644
            self.tar.addfile(info, io.BytesIO(b""))
        self.tar.close()
        return self.buffer.getvalue()


def build(cfg: StartConfig, *, city: str, pod_work_dir: str, persistent: bool = False) -> bytes:
    """The staging tar: work dir → pack overlays → overlay_dir → copy_files → sentinel.

    ``persistent``: the workspace outlives the pod, so `STAGED` goes in just before the
    sentinel (in the stream, so it is there before the stage container can finish).
    """
    stream = TarStream(merge_settings=True)
    wd_rel = pod_work_dir[len(WORKSPACE) + 1:] if pod_work_dir != WORKSPACE else ""
    source = work_dir_source(cfg, city)
    if source:
        stream.add_tree(source, wd_rel)
    stream.add_dir_entry(wd_rel)  # even with nothing in it: then it belongs to the pod's user
    provider = cfg.env.get("GC_PROVIDER", "")
    for overlay in (*cfg.pack_overlay_dirs, cfg.overlay_dir):
        if not overlay or not os.path.isdir(overlay):
            continue
        stream.add_tree(overlay, wd_rel, frozenset({"per-provider"}), merge=True)
        specific = os.path.join(overlay, "per-provider", provider)
        if provider and "/" not in provider and provider not in (".", "..") and os.path.isdir(
                specific):
            stream.add_tree(specific, wd_rel, merge=True)
    for entry in cfg.copy_files:
        rel = safe_rel(entry.rel_dst)
        if not entry.src or not os.path.exists(entry.src):
            continue
        if os.path.isdir(entry.src):
            stream.add_tree(entry.src, rel, merge=True)  # as Go's CopyFileOrDir merges
        else:
            stream.add_file(entry.src, rel or os.path.basename(entry.src))
    return stream.close(markers=(STAGED, SENTINEL) if persistent else (SENTINEL,))


def single(src: str, rel: str) -> bytes:
    """A tar of one `copy-to` source at ``rel`` (relative to the extraction dir), no sentinel."""
    stream = TarStream()
    if os.path.isdir(src):
        stream.add_tree(src, rel)
    else:
        stream.add_file(src, rel or os.path.basename(src))
    stream.tar.close()
    return stream.buffer.getvalue()
