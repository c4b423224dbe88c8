"""Stage files into a local work dir: pack overlays, the overlay dir, copy_files.

Order and semantics as Gas City's tmux provider: pack overlay dirs first (lower
priority), then overlay_dir; a directory's contents merge into the work dir,
except ``per-provider/``, of which only ``per-provider/<GC_PROVIDER>/`` is
merged (flattened). Then each copy_files entry: a directory merges into
``rel_dst``, a file is copied to the path ``rel_dst`` (or its own name when
``rel_dst`` is empty). Missing sources are skipped; ``rel_dst`` may not escape
the work dir. Within a copied directory, known provider settings files
(``.claude/settings.json`` and the like) are JSON-merged into an existing
destination instead of replacing it (`providers.tmux.settings_merge`).
"""

from __future__ import annotations

import os
import shutil

from protocol.errors import UsageError
from providers.tmux import settings_merge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.config import StartConfig


def inside(root: str, rel: str) -> str:
    """``root/rel``, refusing absolute paths and ``..`` escapes."""
    if rel.startswith("/") or "\0" in rel:
        raise UsageError(f"destination must be relative to the work dir: {rel!r}")
    root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(root, rel)) if rel else root
    if path != root and not path.startswith(root + os.sep):
        raise UsageError(f"destination escapes the work dir: {rel!r}")
    return path


def merge_dir(src: str, dst: str, *, skip_top: frozenset[str] = frozenset(), rel: str = "") -> None:
    """Merge ``src``'s contents into ``dst``; ``rel`` is the path below the copied tree's root."""
    os.makedirs(dst, exist_ok=True)
    for entry in os.scandir(src):
        if entry.name in skip_top:
            continue
        target = os.path.join(dst, entry.name)
        entry_rel = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_dir(follow_symlinks=True):
            merge_dir(entry.path, target, rel=entry_rel)
        elif settings_merge.is_mergeable(entry_rel):
            settings_merge.stage_file(entry.path, target, entry_rel)
        else:
            shutil.copy2(entry.path, target)


def copy_any(src: str, dst: str) -> None:
    """Copy a file to the path ``dst``, or merge a directory into ``dst``."""
    if os.path.isdir(src):
        merge_dir(src, dst)
    else:
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        shutil.copy2(src, dst)


def copy_into(work_dir: str, src: str, rel_dst: str) -> None:
    """Copy ``src`` to ``rel_dst`` under ``work_dir``; a missing source is skipped.

    ``rel_dst`` is checked first, so an escape is an error even when ``src`` is
    missing. A file with an empty ``rel_dst`` keeps its own name.
    """
    dst = inside(work_dir, rel_dst)
    if not src or not os.path.exists(src):
        return
    if not rel_dst and not os.path.isdir(src):
        dst = os.path.join(dst, os.path.basename(src))
    if os.path.realpath(src) != dst:
        copy_any(src, dst)


def apply_overlay(src: str, work_dir: str, provider: str) -> None:
    if not os.path.isdir(src):
        return
    merge_dir(src, work_dir, skip_top=frozenset({"per-provider"}))
    if provider and "/" not in provider and provider not in (".", ".."):
        specific = os.path.join(src, "per-provider", provider)
        if os.path.isdir(specific):
            merge_dir(specific, work_dir)


def stage(cfg: StartConfig, work_dir: str) -> None:
    provider = cfg.env.get("GC_PROVIDER", "")
    for src in (*cfg.pack_overlay_dirs, cfg.overlay_dir):
        if src:
            apply_overlay(src, work_dir, provider)
    for entry in cfg.copy_files:
        if entry.src and os.path.exists(entry.src):  # missing sources are skipped unchecked
            copy_into(work_dir, entry.src, entry.rel_dst)
