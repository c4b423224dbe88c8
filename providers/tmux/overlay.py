"""Stage files into a local work dir: pack overlays, the overlay dir, copy_files.

Order and semantics as Gas City's tmux provider: pack overlay dirs first (lower
priority), then overlay_dir; a directory's contents merge into the work dir,
except ``per-provider/``, of which only ``per-provider/<GC_PROVIDER>/`` is
merged (flattened). Then each copy_files entry: a directory merges into
``rel_dst``, a file is copied to the path ``rel_dst`` (or its own name when
``rel_dst`` is empty). Missing sources are skipped. Within a copied directory,
known provider settings files (``.claude/settings.json`` and the like) are
JSON-merged into an existing destination instead of replacing it
(`providers.tmux.settings_merge`).

Containment (`providers.tmux.contained`): ``rel_dst`` is a relative path
without ``..``; nothing is written through a symlink in the work dir, and a
source's symlinks are copied only as the in-tree files they name. Every source
is scanned and every ``rel_dst`` checked before the first write.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import NamedTuple

from providers.tmux import contained, settings_merge
from providers.tmux.contained import Parts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.config import StartConfig


class Step(NamedTuple):
    """One write: ``item`` of a scanned tree (or a lone file) at ``dst`` in the work dir."""

    dst: Parts
    item: contained.Item
    merge_rel: str  # path below the copied tree's root when settings files merge; "" = replace


def tree_steps(scan: contained.Scan, at: Parts) -> Iterator[Step]:
    for item in scan.items:
        yield Step((*at, *item.rel), item, "/".join(item.rel))


def file_step(src: str, dst: Parts) -> Step:
    return Step(dst, contained.Item((), src, False), "")


def plan_copy(work_dir: str, src: str, rel_dst: str, skipped: list[str]) -> list[Step]:
    """Steps copying ``src`` to ``rel_dst``; a missing source is none.

    ``rel_dst`` is checked first, so an escape is an error even when ``src`` is
    missing. A file with an empty ``rel_dst`` keeps its own name.
    """
    at = contained.rel_parts(rel_dst)
    if not src or not os.path.exists(src):
        return []
    if os.path.abspath(src) == os.path.abspath(os.path.join(work_dir, *at)):
        return []  # onto itself (compared as text, as Go does)
    if os.path.isdir(src):
        scan = contained.scan(src)
        skipped += scan.skipped
        return [Step(at, contained.Item((), src, True), ""), *tree_steps(scan, at)]
    # The caller named this file: a link to it is followed (scan's rule is for links in trees).
    return [file_step(os.path.realpath(src), at or (os.path.basename(src),))]


def plan_overlay(src: str, provider: str, skipped: list[str]) -> list[Step]:
    if not os.path.isdir(src):
        return []
    scan = contained.scan(src, skip_top=frozenset({"per-provider"}))
    steps = list(tree_steps(scan, ()))
    skipped += scan.skipped
    if provider and "/" not in provider and provider not in (".", ".."):
        specific = os.path.join(src, "per-provider", provider)
        if not os.path.isdir(specific):
            return steps
        if not contained.within(os.path.realpath(specific), os.path.realpath(src)):
            skipped.append(specific)  # a linked slot that leaves the overlay
        else:
            scan = contained.scan(specific, bound=src)
            steps += tree_steps(scan, ())
            skipped += scan.skipped
    return steps


def apply(work_dir: str, steps: list[Step], skipped: list[str]) -> None:
    """Carry out ``steps`` under ``work_dir`` (see `providers.tmux.contained`)."""
    with contained.Tree(work_dir) as tree:
        for step in steps:
            if step.item.is_dir:
                tree.dir(step.dst)
            elif step.merge_rel and settings_merge.is_mergeable(step.merge_rel):
                merge_file(tree, step)
            else:
                tree.copy_file(step.dst, step.item.path)
    if skipped:
        sys.stderr.write(f"warning: {contained.skipped_warning(skipped)}\n")


def merge_file(tree: contained.Tree, step: Step) -> None:
    """A settings file merged into what is there; a merged file keeps its mode."""
    read = contained.read_source(step.item.path)
    if read is None:
        return
    incoming, st = read
    existing = tree.existing(step.dst)
    data = settings_merge.staged(step.merge_rel, incoming, existing[0] if existing else None)
    tree.write(step.dst, data, existing[1] if existing else st.st_mode & 0o7777)


def copy_into(work_dir: str, src: str, rel_dst: str) -> None:
    """`copy-to`: ``src`` to ``rel_dst`` under ``work_dir``; a missing source is skipped."""
    skipped: list[str] = []
    apply(work_dir, plan_copy(work_dir, src, rel_dst, skipped), skipped)


def stage(cfg: StartConfig, work_dir: str) -> None:
    """All layers planned (every rel_dst checked, every source scanned), then written."""
    provider = cfg.env.get("GC_PROVIDER", "")
    skipped: list[str] = []
    steps: list[Step] = []
    for src in (*cfg.pack_overlay_dirs, cfg.overlay_dir):
        if src:
            steps += plan_overlay(src, provider, skipped)
    for entry in cfg.copy_files:
        if entry.src and os.path.exists(entry.src):  # missing sources are skipped unchecked
            steps += plan_copy(work_dir, entry.src, entry.rel_dst, skipped)
    apply(work_dir, steps, skipped)
