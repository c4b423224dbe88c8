"""Run a child process cheaply: posix_spawn, memfds, and a pidfd for deadlines.

`subprocess` costs ~15 ms of imports per call here (measured), more than the
tmux call it wraps, so hot operations use this instead. stdin, stdout and
stderr are anonymous memory files: the child can never block on a full pipe
and nothing needs a thread or a select loop.

memfd and pidfd are Linux-only. Elsewhere (macOS), or with ``GC_PORTABLE=1``
(how CI exercises this path on Linux), the anonymous files are temp files
unlinked at once (the same no-pipe, no-thread design) and a deadline is kept
by polling ``waitpid(WNOHANG)`` with a short backoff. The choice is made per
call, at run time; the Linux fast path is unchanged.
"""

from __future__ import annotations

import os

_SIGTERM = 15
_SIGKILL = 9


class Result:
    """A finished child: exit code (negative for a signal), stdout, stderr."""

    __slots__ = ("err", "out", "rc")

    def __init__(self, rc: int, out: bytes, err: bytes) -> None:
        self.rc = rc
        self.out = out
        self.err = err

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def error_text(self) -> str:
        return " ".join(self.err.decode("utf-8", "replace").split())

    def __repr__(self) -> str:
        return f"Result(rc={self.rc}, out={self.out[:80]!r}, err={self.err[:80]!r})"


class Timeout(Exception):
    """The child outlived its deadline and was killed."""


class Detached(Exception):
    """The child outlived ``detach_after`` and was left running on its own."""

    def __init__(self, pid: int, seconds: float) -> None:
        super().__init__(f"still running after {seconds:g}s; left to finish on its own (pid {pid})")
        self.pid = pid


def portable() -> bool:
    """Use the portable paths: forced by ``GC_PORTABLE=1``, or no memfd here (not Linux)."""
    return os.environ.get("GC_PORTABLE") == "1" or not hasattr(os, "memfd_create")


def _anonymous(name: str) -> int:
    """A file only this process can reach: memfd on Linux, else a temp file unlinked at once."""
    if not portable():
        return os.memfd_create(name, os.MFD_CLOEXEC)
    base = (os.environ.get("TMPDIR") or "/tmp").rstrip("/") or "/tmp"
    while True:
        path = f"{base}/.gc-proc-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        os.unlink(path)
        return fd


def _memfd(name: str, data: bytes = b"") -> int:
    fd = _anonymous(name)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _drain(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _kill(pid: int, group: bool) -> None:
    try:
        os.killpg(pid, _SIGKILL) if group else os.kill(pid, _SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _poll_exit(pid: int, seconds: float) -> int | None:
    """waitpid(WNOHANG) with a growing pause (1 ms to 20 ms): the exit code, or None at the deadline."""
    import time

    deadline = time.monotonic() + seconds
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.02)


def _wait_portable(pid: int, timeout: float) -> int:
    """`_wait` without a pidfd: the same TERM, 2 s, KILL sequence on a deadline."""
    rc = _poll_exit(pid, timeout)
    if rc is not None:
        return rc
    os.kill(pid, _SIGTERM)
    if _poll_exit(pid, 2.0) is None:  # else reaped already
        os.kill(pid, _SIGKILL)
        os.waitpid(pid, 0)
    raise Timeout(f"timed out after {timeout:g}s")


def _wait(pid: int, timeout: float | None) -> int:
    if timeout is not None and (portable() or not hasattr(os, "pidfd_open")):
        return _wait_portable(pid, timeout)
    if timeout is not None:
        import select

        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # a kernel older than 5.3: no pidfd
            return _wait_portable(pid, timeout)
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if not poller.poll(timeout * 1000):
                os.kill(pid, _SIGTERM)
                if not poller.poll(2000):
                    os.kill(pid, _SIGKILL)
                os.waitpid(pid, 0)
                raise Timeout(f"timed out after {timeout:g}s")
        finally:
            os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run(
    argv: list[str],
    *,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    capture: bool = True,
    new_group: bool = False,
    detach_after: float | None = None,
) -> Result:
    """Run ``argv`` (looked up on PATH) and wait for it.

    ``cwd`` goes through a tiny ``sh`` trampoline (posix_spawn has no chdir in
    3.11); the directory travels as an argument, never inside the script.
    ``new_group`` puts the child in its own process group, so a deadline or a
    rollback can kill everything it started. ``detach_after`` (instead of ``timeout``)
    waits that long at most, then raises `Detached` and leaves the child running: for
    work that must finish even though this process cannot wait (a rollback's delete in
    the grace period before SIGKILL; with ``new_group`` that SIGKILL cannot reach it).
    """
    if not hasattr(os, "posix_spawnp"):  # Windows: say so in one line, not an AttributeError
        from protocol.errors import ProviderError

        raise ProviderError("this platform has no posix_spawn: the providers run on Linux and macOS")
    if cwd is not None:
        argv = ["sh", "-c", 'cd -- "$0" && exec "$@"', cwd, *argv]
    fds: list[int] = []
    actions: list[tuple[int, ...]] = []
    in_fd = _memfd("stdin", stdin) if stdin else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    fds.append(in_fd)
    actions.append((os.POSIX_SPAWN_DUP2, in_fd, 0))
    out_fd = err_fd = -1
    if capture:
        out_fd, err_fd = _memfd("stdout"), _memfd("stderr")
        fds += [out_fd, err_fd]
        actions += [(os.POSIX_SPAWN_DUP2, out_fd, 1), (os.POSIX_SPAWN_DUP2, err_fd, 2)]
    try:
        environ = os.environ if env is None else env
        if new_group:
            pid = os.posix_spawnp(argv[0], argv, environ, file_actions=actions, setpgroup=0)
        else:
            pid = os.posix_spawnp(argv[0], argv, environ, file_actions=actions)
    except OSError as error:
        for fd in fds:
            os.close(fd)
        return Result(127, b"", f"{argv[0]}: {error.strerror}".encode())
    os.close(in_fd)
    if detach_after is not None:
        exited = _poll_exit(pid, detach_after)
        if exited is None:
            for fd in (out_fd, err_fd) if capture else ():
                os.close(fd)
            raise Detached(pid, detach_after)
        rc = exited
    else:
        try:
            rc = _wait(pid, timeout)
        except BaseException:
            _kill(pid, new_group)  # interrupted (rollback) or timed out: leave no child behind
            if capture:
                os.close(out_fd)
                os.close(err_fd)
            raise
    if not capture:
        return Result(rc, b"", b"")
    return Result(rc, _drain(out_fd), _drain(err_fd))


def spawn(argv: list[str], *, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` with inherited stdio and return its pid (for `attach`)."""
    return os.posix_spawnp(argv[0], argv, os.environ if env is None else env)


def replace(argv: list[str], *, env: dict[str, str] | None = None) -> None:
    """Replace this process with ``argv`` (for `attach`: the terminal is inherited)."""
    if env is None:
        os.execvp(argv[0], argv)
    os.execvpe(argv[0], argv, env)
