"""Copies that stay inside the work dir, whatever symlinks sit in it or in the source.

The work dir belongs to an agent, which may plant symlinks in it (``notes ->
/home/u/other-agent``) before a ``copy-to`` or a restart's staging. So:

Destination (`Tree`). Every path is reached from the work dir's own descriptor
one component at a time with ``O_NOFOLLOW``; the copy never creates a symlink,
so it never has one to follow. A symlink found where a directory or a file is
to go is removed and replaced by the real thing: the link lies inside the work
dir and only the link goes, never what it points to (GNU tar, which unpacks the
same trees in pods, does the same). Files are written to a fresh temporary name
and renamed over the destination, so neither a symlink nor a hard link at the
destination is written through, and no reader sees half a file. Destinations
are relative paths without ``..`` (`rel_parts`); a regular file where a
directory must go, or a directory where a file must go, is an error.

Source (`scan`). Regular files and directories are copied; sockets, FIFOs and
devices are skipped. A symlink is copied as the regular file it resolves to
when that file lies inside ``bound`` (the tree being copied, or the overlay it
belongs to); any other symlink (to a directory, out of the tree, dangling, a
loop) is skipped and named in one warning. So a loop cannot recurse, and a
link cannot smuggle ``~/.ssh/id_rsa`` or another session's files into a copy.
Gas City's Go provider dereferences file links wherever they point and does not
descend into linked directories; this is the same minus the links that leave
the tree. The source is scanned completely before anything is written, so an
unreadable source fails without having changed the work dir.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import NamedTuple

from protocol.errors import ProviderError, UsageError

Parts = tuple[str, ...]
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: How often a component is replaced before we give up on a racing writer.
_ATTEMPTS = 5
#: Deepest source tree and ``rel_dst`` accepted; `Tree` keeps a descriptor per level
#: (so together well under the usual 1024 open files), and real trees are far shallower.
MAX_DEPTH = 256


def rel_parts(rel: str) -> Parts:
    """``rel`` as path components; absolute paths, ``..`` and NUL are refused."""
    if "\0" in rel or rel.startswith("/"):
        raise UsageError(f"destination must be relative to the work dir: {rel!r}")
    parts = tuple(p for p in rel.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UsageError(f"destination must not contain '..': {rel!r}")
    if len(parts) > MAX_DEPTH:
        raise UsageError(f"destination is more than {MAX_DEPTH} directories deep")
    return parts


def within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class Item(NamedTuple):
    """One thing found in a source tree."""

    rel: Parts  # below the scanned directory
    path: str  # where to read it: the entry, or the file a link resolves to
    is_dir: bool


class Scan(NamedTuple):
    items: list[Item]
    skipped: list[str]  # source paths of links (and unreadable dirs) not copied


def _via_link(path: str, rel: Parts, bound: str, skipped: list[str]) -> Item | None:
    try:
        real = os.path.realpath(path, strict=True)  # raises on dangling links and loops
        st = os.stat(real)
    except OSError:
        skipped.append(path)
        return None
    if within(real, bound) and stat.S_ISREG(st.st_mode):
        return Item(rel, real, False)
    skipped.append(path)
    return None


def scan(src: str, *, bound: str = "", skip_top: frozenset[str] = frozenset()) -> Scan:
    """Everything below directory ``src``, parents before children, names sorted.

    ``bound``: links must resolve inside it (default: ``src`` itself). Iterative,
    so a deep tree cannot exhaust the interpreter's recursion limit.
    """
    bound = os.path.realpath(bound or src)
    items: list[Item] = []
    skipped: list[str] = []
    stack: list[tuple[str, Parts]] = [(src, ())]
    while stack:
        path, rel = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            if not rel:
                raise ProviderError(f"cannot read {src!r}") from None
            skipped.append(path)
            continue
        subdirs: list[tuple[str, Parts]] = []
        for entry in entries:
            if not rel and entry.name in skip_top:
                continue
            child = (*rel, entry.name)
            try:
                if entry.is_symlink():
                    item = _via_link(entry.path, child, bound, skipped)
                    if item:
                        items.append(item)
                elif entry.is_dir(follow_symlinks=False):
                    if len(child) > MAX_DEPTH:
                        raise ProviderError(f"{src!r} is more than {MAX_DEPTH} directories deep")
                    items.append(Item(child, entry.path, True))
                    subdirs.append((entry.path, child))
                elif entry.is_file(follow_symlinks=False):
                    items.append(Item(child, entry.path, False))
            except OSError:
                skipped.append(entry.path)
        stack.extend(reversed(subdirs))
    return Scan(items, skipped)


def skipped_warning(skipped: list[str]) -> str:
    """One line naming what a copy left out (names quoted: they may hold newlines)."""
    shown = ", ".join(repr(p) for p in skipped[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return ("not copied (symlinks that leave the copied tree, dangle, loop or name a "
            f"directory): {shown}{more}")


def open_source(path: str) -> tuple[int, os.stat_result] | None:
    """A regular file opened for reading without following a final link (None: not one).

    ``O_NONBLOCK`` so a FIFO swapped in after the scan cannot hang the copy.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def read_source(path: str) -> tuple[bytes, os.stat_result] | None:
    opened = open_source(path)
    if opened is None:
        return None
    fd, st = opened
    with open(fd, "rb") as f:
        return f.read(), st


def _shown(parts: Parts) -> str:
    text = "/".join(parts) or "."
    return repr(text if len(text) <= 200 else "..." + text[-200:])


class Tree:
    """The work dir, opened once; every path below it reached without following a link.

    Keeps the directories of the last path open, so a tree copied in scan order
    opens each directory once.
    """

    def __init__(self, root: str) -> None:
        try:
            self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise ProviderError(f"work dir {root!r}: {error.strerror}") from None
        self.chain: list[tuple[str, int]] = []

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._trim(0)
        os.close(self.fd)

    def _trim(self, keep: int) -> None:
        while len(self.chain) > keep:
            os.close(self.chain.pop()[1])

    def dir(self, parts: Parts) -> int:
        """The directory at ``parts``, created as needed; links in the way are replaced."""
        if len(parts) > 2 * MAX_DEPTH:  # a deep rel_dst holding a deep tree
            raise ProviderError(f"more than {2 * MAX_DEPTH} directories deep: {_shown(parts)}")
        keep = 0
        while keep < min(len(self.chain), len(parts)) and self.chain[keep][0] == parts[keep]:
            keep += 1
        self._trim(keep)
        for depth in range(keep, len(parts)):
            parent = self.chain[-1][1] if self.chain else self.fd
            self.chain.append((parts[depth], self._enter(parent, parts[depth], parts[:depth + 1])))
        return self.chain[-1][1] if self.chain else self.fd

    def _enter(self, parent: int, name: str, parts: Parts) -> int:
        for _ in range(_ATTEMPTS):
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                try:
                    os.mkdir(name, 0o777, dir_fd=parent)
                except FileExistsError:
                    pass
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise ProviderError(f"{_shown(parts)}: {error.strerror}") from None
                self._unlink_link(parent, name, parts, "is not a directory")
        raise ProviderError(f"{_shown(parts)} keeps changing while it is copied into")

    def _unlink_link(self, parent: int, name: str, parts: Parts, problem: str) -> None:
        """Remove the symlink ``name`` (only a symlink: anything else is an error)."""
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISLNK(st.st_mode):
            raise ProviderError(f"{_shown(parts)} exists and {problem}")
        try:
            os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            pass

    def existing(self, parts: Parts) -> tuple[bytes, int] | None:
        """The bytes and mode of the regular file at ``parts`` (None: absent, a link, other)."""
        parent = self.dir(parts[:-1])
        try:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=parent)
        except OSError:
            return None
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            return f.read(), stat.S_IMODE(st.st_mode)

    def write(self, parts: Parts, data: bytes | int, mode: int,
              times_ns: tuple[int, int] | None = None) -> None:
        """Put ``data`` (bytes, or a readable fd copied to its end) at ``parts``, atomically."""
        if not parts:
            raise ProviderError("cannot replace the work dir with a file")
        parent = self.dir(parts[:-1])
        tmp = f".gc-copy-{os.urandom(6).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=parent)
        try:
            with open(fd, "wb", closefd=False) as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    while chunk := os.read(data, 1 << 20):
                        out.write(chunk)
            os.fchmod(fd, mode)
            if times_ns:
                os.utime(fd, ns=times_ns)
        except BaseException:
            os.close(fd)
            os.unlink(tmp, dir_fd=parent)
            raise
        os.close(fd)
        try:
            os.rename(tmp, parts[-1], src_dir_fd=parent, dst_dir_fd=parent)
        except OSError as error:
            os.unlink(tmp, dir_fd=parent)
            if error.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise ProviderError(f"{_shown(parts)} exists and is a directory") from None
            raise ProviderError(f"{_shown(parts)}: {error.strerror}") from None

    def copy_file(self, parts: Parts, src: str) -> None:
        """Copy regular file ``src`` (content, mode, times) to ``parts``; else nothing."""
        opened = open_source(src)
        if opened is None:
            return
        fd, st = opened
        try:
            self.write(parts, fd, stat.S_IMODE(st.st_mode), (st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fd)
