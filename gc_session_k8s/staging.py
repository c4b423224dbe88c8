"""Staging: the work dir, pack overlays, overlay_dir and copy_files as ONE tar stream.

The tar is built in memory and piped to ``tar -x`` in the ``stage`` init
container (``kubectl exec -i <pod> -c stage``), so there is no Secret or
ConfigMap size limit and only one exec. Its last member is the sentinel
``.gc-ready``, which lets the init container finish and the agent start.

Paths: the work dir and overlays land in the pod work dir; copy_files'
``rel_dst`` is relative to /workspace, as both upstream k8s implementations
and Gas City's container staging expect (session-protocol.md §3.6).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile

from gc_session_k8s.podenv import WORKSPACE, under
from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.config import StartConfig

SENTINEL = ".gc-ready"
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


def needs_staging(cfg: StartConfig, city: str) -> bool:
    overlays = [d for d in (*cfg.pack_overlay_dirs, cfg.overlay_dir) if d and os.path.isdir(d)]
    files = [e for e in cfg.copy_files if e.src and os.path.exists(e.src)]
    return bool(work_dir_source(cfg, city) or overlays or files)


class TarStream:
    """An in-memory tar whose member names are relative to /workspace."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.TarFile(fileobj=self.buffer, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs: set[str] = set()

    def _info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.mtime = int(st.st_mtime)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

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

    def add_file(self, src: str, name: str) -> None:
        """A regular file (symlinks followed); other kinds are skipped."""
        try:
            st = os.stat(src)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            return
        self.add_dir_entry(os.path.dirname(name))
        info = self._info(name, st)
        info.size = st.st_size
        with open(src, "rb") as f:
            self.tar.addfile(info, f)

    def add_tree(self, src: str, prefix: str, skip_top: frozenset[str] = frozenset()) -> None:
        """Merge ``src``'s contents under ``prefix`` (symlinked dirs followed, loops cut)."""
        seen: set[tuple[int, int]] = set()

        def walk(path: str, name: str, top: bool) -> None:
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
                try:
                    if entry.is_dir(follow_symlinks=True):
                        walk(entry.path, child, False)
                    else:
                        self.add_file(entry.path, child)
                except OSError:
                    continue

        walk(src, prefix, True)

    def close(self) -> bytes:
        info = tarfile.TarInfo(SENTINEL)
        info.mode = 0o644
        self.tar.addfile(info, io.BytesIO(b""))
        self.tar.close()
        return self.buffer.getvalue()


def build(cfg: StartConfig, *, city: str, pod_work_dir: str) -> bytes:
    """The staging tar: work dir → pack overlays → overlay_dir → copy_files → sentinel."""
    stream = TarStream()
    wd_rel = pod_work_dir[len(WORKSPACE) + 1:] if pod_work_dir != WORKSPACE else ""
    source = work_dir_source(cfg, city)
    if source:
        stream.add_tree(source, wd_rel)
    provider = cfg.env.get("GC_PROVIDER", "")
    for overlay in (*cfg.pack_overlay_dirs, cfg.overlay_dir):
        if not overlay or not os.path.isdir(overlay):
            continue
        stream.add_tree(overlay, wd_rel, frozenset({"per-provider"}))
        specific = os.path.join(overlay, "per-provider", provider)
        if provider and "/" not in provider and provider not in (".", "..") and os.path.isdir(
                specific):
            stream.add_tree(specific, wd_rel)
    for entry in cfg.copy_files:
        rel = safe_rel(entry.rel_dst)
        if not entry.src or not os.path.exists(entry.src):
            continue
        if os.path.isdir(entry.src):
            stream.add_tree(entry.src, rel)
        else:
            stream.add_file(entry.src, rel or os.path.basename(entry.src))
    return stream.close()


def single(src: str, rel: str) -> bytes:
    """A tar of one `copy-to` source at ``rel`` (relative to the extraction dir), no sentinel."""
    stream = TarStream()
    if os.path.isdir(src):
        stream.add_tree(src, rel)
    else:
        stream.add_file(src, rel or os.path.basename(src))
    stream.tar.close()
    return stream.buffer.getvalue()
