"""The per-user runtime directory: 0700, owned by us, or not used at all.

It holds the resolved-kubeconfig cache (0600 files) and the helper's socket. A directory
that another uid owns, or that others can enter, is refused: whoever controls it could
plant a kubeconfig or a socket that answers in the helper's name.
"""

from __future__ import annotations

import os

from providers.kube.transport import Fallback


def path(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    override = env.get("GC_K8S_RUNTIME_DIR")
    if override:
        return override
    base = env.get("XDG_RUNTIME_DIR") or ""
    if base and os.path.isdir(base):
        return os.path.join(base, "gc-k8s")
    return f"/tmp/gc-k8s-{os.getuid()}"


def ensure(environ: dict[str, str] | None = None) -> str:
    """Create (0700) or check the directory; `Fallback` when it is not safely ours."""
    where = path(environ)
    try:
        os.mkdir(where, 0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise Fallback(f"runtime dir {where}: {error.strerror}") from None
    check(where)
    return where


def check(where: str) -> None:
    try:
        st = os.lstat(where)
    except OSError as error:
        raise Fallback(f"runtime dir {where}: {error.strerror}") from None
    if (st.st_mode & 0o170000) != 0o040000:
        raise Fallback(f"runtime dir {where} is not a directory")
    if st.st_uid != os.getuid():
        raise Fallback(f"runtime dir {where} is owned by uid {st.st_uid}, not us")
    if st.st_mode & 0o077:
        raise Fallback(f"runtime dir {where} is open to others (mode {st.st_mode & 0o777:o})")


def write_private(target: str, data: bytes) -> None:
    """Write a 0600 file atomically (temp name + rename), never readable by others.

    The temp name is unique per call, not per process: the helper's threads write the
    same cache file at once (a shared name let one rename the other's half-written file
    away, and the loser's rename failed its client's call).
    """
    tmp = f"{target}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
