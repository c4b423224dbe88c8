"""The per-user runtime directory: 0700, owned by us, or not used at all.

It holds the resolved-kubeconfig cache (0600 files) and the helper's socket. A directory
that another uid owns, that others can write, or that is a symlink is refused
(`protocol.privdir.Untrusted`: exit 1, one line), never used nor gone around: whoever
controls it could plant a kubeconfig or a socket that answers in the helper's name.

It uses `posix` (Linux and macOS, the platforms we support, both have it) where `os` is
the habit: the helper fast path, which goes through the helper's door (`wire.ask_door`),
loads no `os`.
"""

import posix

from protocol import privdir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def path(environ: "Mapping[str, str] | None" = None) -> str:
    if environ is None:
        import os

        environ = os.environ
    override = environ.get("GC_K8S_RUNTIME_DIR")
    if override:
        return override
    base = environ.get("XDG_RUNTIME_DIR") or ""
    if base and is_dir(base):
        return f"{base.rstrip('/')}/gc-k8s"
    return f"/tmp/gc-k8s-{posix.geteuid()}"


def is_dir(where: str) -> bool:
    try:
        return (posix.stat(where).st_mode & 0o170000) == 0o040000
    except (OSError, ValueError):
        return False


def ensure(environ: "Mapping[str, str] | None" = None) -> str:
    """Create (0700) or check the directory; `privdir.Untrusted` when it is not safely ours."""
    where = path(environ)
    return privdir.ensure_dir(where, what="runtime dir", top_ours_by_name=_ours_by_name(where))


def check(where: str) -> None:
    privdir.check_dir(where, "runtime dir", ours_by_name=_ours_by_name(where))


def _ours_by_name(where: str) -> bool:
    """Our derived default (`path`) may be narrowed; a GC_K8S_RUNTIME_DIR someone named never is."""
    return where.rsplit("/", 1)[-1] in ("gc-k8s", f"gc-k8s-{posix.geteuid()}")


def write_private(target: str, data: bytes) -> None:
    """Write a 0600 file atomically (temp name + rename), never readable by others.

    The temp name is unique per call, not per process: the helper's threads write the
    same cache file at once (a shared name let one rename the other's half-written file
    away, and the loser's rename failed its client's call).
    """
    tmp = f"{target}.{posix.getpid()}.{posix.urandom(6).hex()}.tmp"
    fd = privdir.open_file(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL, 0o600, "runtime file")
    try:
        try:
            write_all(fd, data)
        finally:
            posix.close(fd)
        posix.replace(tmp, target)
    except BaseException:
        try:
            posix.unlink(tmp)
        except OSError:
            pass
        raise


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd`` (a write may take part of it)."""
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view):]
