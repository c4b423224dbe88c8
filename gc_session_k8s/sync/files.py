"""Bring back a work dir that is not a git repository: files only, nothing overwritten.

The pod's work dir comes over ``kubectl exec`` as a tar stream and is unpacked
(tarfile's ``data`` filter: no absolute paths, no links out of the tree) into
its own directory: ``--to`` itself when it was given and is empty, else
``<base>/.gc-sync/<session>/``. Every file that differs from the local copy at
the same path under the base directory is listed; local files are never
touched. A previous copy that differs is kept aside (``<dest>.<UTC time>``).
"""

from __future__ import annotations

import filecmp
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from protocol.errors import ProviderError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gc_session_k8s.sync.pod import PodRef

SYNC_DIR = ".gc-sync"
SHOWN = 50
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def session_dir_name(session: str) -> str:
    """A single safe path component for a session (a short hash when lossy)."""
    mapped = "".join(c if c in _SAFE else "-" for c in session).strip(".")
    if mapped == session and mapped:
        return mapped
    return f"{mapped[:80] or 'session'}-{hashlib.sha256(session.encode()).hexdigest()[:8]}"


def relative_files(root: str) -> dict[str, str]:
    """``relative path -> absolute path`` of every non-directory entry under ``root``."""
    found: dict[str, str] = {}
    for parent, dirs, files in os.walk(root):
        dirs.sort()
        for name in [*files, *(d for d in dirs if Path(parent, d).is_symlink())]:
            full = os.path.join(parent, name)
            found[os.path.relpath(full, root)] = full
    return found


def same_entry(a: str, b: str) -> bool:
    """Equal content (or equal link target) for two paths."""
    left, right = Path(a), Path(b)
    if left.is_symlink() or right.is_symlink():
        return left.is_symlink() and right.is_symlink() and left.readlink() == right.readlink()
    if not (os.path.isfile(a) and os.path.isfile(b)):
        return False
    return filecmp.cmp(a, b, shallow=False)


def same_tree(a: str, b: str) -> bool:
    left, right = relative_files(a), relative_files(b)
    return left.keys() == right.keys() and all(same_entry(left[k], right[k]) for k in left)


def fetch_tree(pod: PodRef, into: str, timeout: float) -> None:
    """Unpack the pod's work dir into ``into``."""
    result = pod.exec(["tar", "-C", pod.work_dir, "-cf", "-", "."], timeout=timeout)
    if not result.ok:
        raise ProviderError(f"pod {pod.name}: cannot archive {pod.work_dir}: "
                            f"{result.error_text() or f'exit code {result.rc}'}")
    unpack(result.out, into, f"pod {pod.name}: cannot unpack the work dir")


def unpack(data: bytes, into: str, failing: str, *, skip_unsafe: bool = False) -> None:
    """A tar stream from a pod unpacked under ``into`` by tarfile's ``data`` filter (no
    absolute paths, no links out of the tree, nothing special); ``skip_unsafe``: such a
    member is left out instead of failing the whole unpack."""

    def contained(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError:
            return None

    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            archive.extractall(into, filter=contained if skip_unsafe else "data")
    except (tarfile.TarError, OSError) as error:
        raise ProviderError(f"{failing}: {error}") from error


def ignore_sync_dir(path: str) -> None:
    """Make git ignore the whole sync directory (a ``.gitignore`` of ``*`` inside it)."""
    marker = os.path.join(path, ".gitignore")
    if not os.path.exists(marker):
        with open(marker, "w") as handle:
            handle.write("# written by gc-session-k8s sync: copies of pod work dirs\n*\n")


def _is_empty_dir(path: str) -> bool:
    return not os.path.exists(path) or (os.path.isdir(path) and not any(Path(path).iterdir()))


def sync_files(pod: PodRef, session: str, base: str, *, to_given: bool, dry_run: bool,
               timeout: float, why: str) -> list[str]:
    """The whole file sync; returns the lines to print."""
    direct = to_given and _is_empty_dir(base)
    dest = base if direct else os.path.join(base, SYNC_DIR, session_dir_name(session))
    would = "would be " if dry_run else ""
    with tempfile.TemporaryDirectory(prefix="gc-sync-files-") as stage:
        fetch_tree(pod, stage, timeout)
        incoming = relative_files(stage)
        if os.path.isdir(dest) and not direct and same_tree(stage, dest):
            return [f"{why}: files of pod {pod.name} already in {dest} (nothing changed)"]
        skip = SYNC_DIR + os.sep
        mine = {rel: os.path.join(base, rel) for rel in incoming
                if not direct and not rel.startswith(skip)}
        differ = sorted(rel for rel, path in mine.items()
                        if os.path.lexists(path) and not same_entry(incoming[rel], path))
        new = sorted(rel for rel, path in mine.items() if not os.path.lexists(path))
        if mine and not differ and not new:
            return [f"{why}: every file of pod {pod.name} is already in {base} (nothing changed)"]
        verb = "would be copied" if dry_run else "copied"
        lines = [f"{why}: {len(incoming)} file(s) from pod {pod.name} {verb} into {dest}"]
        aside = ""
        if os.path.exists(dest) and not direct:
            aside = f"{dest}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
            lines.append(f"  the previous copy {would or 'is '}kept at {aside}")
        if differ:
            lines.append(f"  {len(differ)} file(s) differ from your copies in {base} "
                         "(yours are not overwritten; compare them):")
            lines += [f"    differs: {rel}" for rel in differ[:SHOWN]]
            if len(differ) > SHOWN:
                lines.append(f"    … and {len(differ) - SHOWN} more")
        if new and not direct:
            lines.append(f"  {len(new)} file(s) exist only in the pod")
        if dry_run:
            lines.append("dry run: nothing changed")
            return lines
        if aside:
            Path(dest).rename(aside)
        os.makedirs(dest, exist_ok=True)
        if not direct:
            ignore_sync_dir(os.path.join(base, SYNC_DIR))
        for entry in Path(stage).iterdir():
            shutil.move(entry, Path(dest, entry.name))
        return lines
