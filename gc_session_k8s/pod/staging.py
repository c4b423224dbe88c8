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

Containment, the same rules as the local copy (`providers.tmux.contained`):
sources are scanned by `contained.scan` (a symlink is staged only as the
in-tree regular file it names, so a loop cannot recurse and a link cannot carry
a host file such as ``~/.ssh/id_rsa`` into the pod). The stream itself holds
only directories and regular files, every member name relative and free of
``..`` (checked for each member), and every directory on a member's path has
its own member before it. GNU tar's default extraction (the agent image's tar,
and the host's under the offline API server) then never follows a symlink
already in the work dir: it replaces a symlink where a directory member goes,
and unlinks whatever is at a file member's name before creating the file.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
import tempfile
from typing import NamedTuple

from gc_session_k8s.pod.environment import WORKSPACE, under
from protocol.errors import UsageError
from providers.tmux import contained

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
    return "/".join(contained.rel_parts(rel))


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
        self.skipped: list[str] = []  # source links not followed (`contained.scan`)

    def _member(self, name: str, mode: int, mtime: float) -> tarfile.TarInfo:
        if "/".join(contained.rel_parts(name)) != name or not name:
            raise UsageError(f"staged path must be relative, without '..': {name!r}")
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
        """A regular file (a final symlink is not followed); other kinds are skipped.

        ``merge_rel`` is its path below the root of a tree whose settings files
        merge into what is already there (empty: it simply replaces it).
        """
        opened = contained.open_source(src)
        if opened is None:
            return
        fd, st = opened
        with open(fd, "rb") as f:
            self.add_dir_entry(os.path.dirname(name))
            if self.held is not None:
                from providers.tmux import settings_merge  # start only: keeps copy-to/exec light

                if name in self.held or settings_merge.lands_on_mergeable(name):
                    self._hold(self.held, f.read(), name, st, merge_rel)
                    return
            info = self._info(name, st)
            info.size = st.st_size
            self.tar.addfile(info, f)

    def _hold(self, held: dict[str, Held], data: bytes, name: str, st: os.stat_result,
              merge_rel: str) -> None:
        from providers.tmux import settings_merge

        before = held.get(name)
        mode = stat.S_IMODE(st.st_mode)
        if merge_rel and settings_merge.is_mergeable(merge_rel):
            data = settings_merge.staged(merge_rel, data, before.data if before else None)
            mode = before.mode if before else mode  # a merged file keeps its mode, as on disk
        held[name] = Held(data, mode, int(st.st_mtime))

    def add_tree(self, src: str, prefix: str, skip_top: frozenset[str] = frozenset(), *,
                 merge: bool = False, bound: str = "") -> None:
        """Merge ``src``'s contents under ``prefix`` (`providers.tmux.contained.scan` rules).

        ``merge``: its known settings files JSON-merge into earlier layers'.
        ``bound``: where its symlinks may point (default: ``src``).
        """
        scan = contained.scan(src, bound=bound, skip_top=skip_top)
        self.skipped += scan.skipped
        if prefix:
            self.add_dir_entry(prefix, os.stat(src))
        for item in scan.items:
            name = "/".join((prefix, *item.rel)) if prefix else "/".join(item.rel)
            if item.is_dir:
                try:
                    self.add_dir_entry(name, os.lstat(item.path))
                except OSError:
                    continue
            else:
                self.add_file(item.path, name, "/".join(item.rel) if merge else "")

    def close(self, *, markers: tuple[str, ...] = (SENTINEL,)) -> bytes:
        """The finished tar; ``markers`` are empty files written last, in order."""
        for name, held in (self.held or {}).items():
            info = self._member(name, held.mode, held.mtime)
            info.size = len(held.data)
            self.tar.addfile(info, io.BytesIO(held.data))
        for marker in markers:
            info = self._member(marker, 0o644, 0)
            self.tar.addfile(info, io.BytesIO(b""))
        self.tar.close()
        if self.skipped:
            sys.stderr.write(f"warning: {contained.skipped_warning(self.skipped)}\n")
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
            if contained.within(os.path.realpath(specific), os.path.realpath(overlay)):
                stream.add_tree(specific, wd_rel, merge=True, bound=overlay)
            else:
                stream.skipped.append(specific)  # a linked slot that leaves the overlay
    for entry in cfg.copy_files:
        rel = safe_rel(entry.rel_dst)
        if not entry.src or not os.path.exists(entry.src):
            continue
        if os.path.isdir(entry.src):
            stream.add_tree(entry.src, rel, merge=True)  # as Go's CopyFileOrDir merges
        else:
            # The caller named this file: a link to it is followed (`contained.scan`'s rule
            # is for links found inside trees).
            stream.add_file(os.path.realpath(entry.src), rel or os.path.basename(entry.src))
    return stream.close(markers=(STAGED, SENTINEL) if persistent else (SENTINEL,))


def single(src: str, rel: str) -> bytes:
    """A tar of one `copy-to` source at ``rel`` (relative to the extraction dir), no sentinel."""
    stream = TarStream()
    if os.path.isdir(src):
        stream.add_tree(src, rel)
    else:
        stream.add_file(os.path.realpath(src), rel or os.path.basename(src))
    return stream.close(markers=())
