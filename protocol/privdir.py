"""Private state: the one check every state, lock, runtime and socket directory passes.

A directory we keep state in (locks, the helper's socket, cached kubeconfigs, generation
files) is ours alone: a real directory (not a symlink), owned by our effective uid, with
no group or other bits. We create it 0700; at each use we look again (`lstat`, a few
microseconds), and anything else is refused with `Untrusted` (exit 1, one line) and never
used: whoever else owns or can write the directory could plant files or links where we
would create ours, or hold our locks. Files in it are opened with ``O_NOFOLLOW`` and
``O_CLOEXEC`` and must be regular files of ours (`open_file`).

We never change the mode of a directory whose name we did not choose: a path an operator
or caller names (``GC_EXEC_STATE_DIR=$HOME``, a socket straight under ``/``) that others
can read is refused with the command that fixes it, never chmod-ed behind their back (as
root, that once narrowed ``/`` itself). One repair, on purpose, for the directories we
name ourselves (``gc-exec-<uid>``, ``tmux``, ``boxes``...): one of ours that others can
only read (an earlier release made them 0755 through ``os.makedirs``) is narrowed to 0700,
since nobody else could have written into it. Group or other *write* bits are always
refused. A directory others are meant to read (a metrics textfile directory a scraper
reads) passes ``others_may_read``: only its owner and write bits are checked.

`posix`, not `os`: `providers.kube.transport.rundir` uses this on the executable's
quickest path, which starts without site and loads neither `os` nor ``__future__``.
"""

import errno
import posix

from protocol.errors import ProviderError

_KIND = 0o170000
_DIR = 0o040000
_REG = 0o100000
_LINK = 0o120000
_SOCK = 0o140000


class Untrusted(ProviderError):
    """State we would use is not safely ours: refused, never used (exit 1)."""


def _describe(mode: int) -> str:
    kind = mode & _KIND
    return {_LINK: "a symlink", _REG: "a regular file", _SOCK: "a socket"}.get(kind, "not a directory")


def check_dir(where: str, what: str = "state directory", *, ours_by_name: bool = False,
              others_may_read: bool = False) -> None:
    """Raise `Untrusted` unless ``where`` is a real directory of ours with mode 0700 or less
    (``others_may_read``: no group or other write bit). ``ours_by_name``: we chose its name,
    so a mode others can only read is narrowed to 0700 instead of refused."""
    try:
        st = posix.lstat(where)
    except OSError as error:
        raise Untrusted(f"{what} {where}: {error.strerror}") from None
    except ValueError:
        raise Untrusted(f"{what} {where!r}: not a usable path") from None
    if (st.st_mode & _KIND) != _DIR:
        raise Untrusted(f"refusing {what} {where}: {_describe(st.st_mode)}, not a directory "
                        "of ours (remove it)")
    uid = posix.geteuid()
    if st.st_uid != uid:
        raise Untrusted(f"refusing {what} {where}: owned by uid {st.st_uid}, not us ({uid}); "
                        "remove it or point the provider elsewhere")
    if st.st_mode & 0o077:
        if st.st_mode & 0o022:
            raise Untrusted(f"refusing {what} {where}: writable by others (mode "
                            f"{st.st_mode & 0o7777:o}); remove it or chmod 700 it")
        if others_may_read:
            return
        if not ours_by_name:
            raise Untrusted(f"refusing {what} {where}: readable by others (mode "
                            f"{st.st_mode & 0o7777:o}); chmod 700 it or point the provider "
                            "at a private directory")
        try:
            posix.chmod(where, st.st_mode & 0o7700)  # ours, only readable by others: narrow it
        except OSError as error:
            raise Untrusted(f"refusing {what} {where}: mode {st.st_mode & 0o7777:o} "
                            f"({error.strerror})") from None


def ensure_dir(top: str, *parts: str, what: str = "state directory",
               top_ours_by_name: bool = False) -> str:
    """``top/part/...``: each created 0700 when missing, each checked (`check_dir`). The
    ``parts`` are names we chose; ``top`` is ours by name only when ``top_ours_by_name``
    (a default we derived, not a path someone gave us).

    ``top``'s own parents are created when missing (0700 too) but not checked: they are
    the system's (``/tmp``, ``$XDG_RUNTIME_DIR``) or the operator's choice."""
    where = top.rstrip("/") or "/"
    _make(where, parents=True, what=what)
    check_dir(where, what, ours_by_name=top_ours_by_name)
    for part in parts:
        where = f"{where}/{part}"
        _make(where, parents=False, what=what)
        check_dir(where, what, ours_by_name=True)
    return where


def _make(where: str, *, parents: bool, what: str) -> None:
    try:
        posix.mkdir(where, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = where.rsplit("/", 1)[0]
        if not parents or not parent or parent == where:
            raise Untrusted(f"{what} {where}: no such directory above it") from None
        _make(parent, parents=True, what=what)
        _make(where, parents=False, what=what)
    except OSError as error:
        raise Untrusted(f"cannot create {what} {where}: {error.strerror}") from None
    except ValueError:
        raise Untrusted(f"{what} {where!r}: not a usable path") from None


def open_file(path: str, flags: int, mode: int = 0o600, what: str = "state file") -> int:
    """Open a file in a checked directory: never through a symlink, never inherited, and
    only a regular file of ours (else `Untrusted`, the descriptor closed). Other failures
    (`FileNotFoundError`, ...) are the `OSError` they are."""
    try:
        fd = posix.open(path, flags | posix.O_NOFOLLOW | posix.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:  # the last component is a symlink
            raise Untrusted(f"refusing {what} {path}: a symlink (remove it)") from None
        raise  # not there, no room: the caller's to word
    except ValueError:
        raise Untrusted(f"{what} {path!r}: not a usable path") from None
    st = posix.fstat(fd)
    problem = ("" if (st.st_mode & _KIND) == _REG else _describe(st.st_mode) + ", not a regular file")
    if not problem and st.st_uid != posix.geteuid():
        problem = f"owned by uid {st.st_uid}, not us"
    if problem:
        posix.close(fd)
        raise Untrusted(f"refusing {what} {path}: {problem} (remove it)")
    return fd
