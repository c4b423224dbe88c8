"""Which tmux server the local provider uses: its own, never the user's default.

``GC_TMUX_SOCKET`` names it: a path (contains ``/``) is used as is; a name is
placed where ``tmux -L <name>`` would put it. Unset, the name is ``gc``. Every
session gets ``GC_TMUX_SOCKET`` set to the absolute path, so an agent running
this executable inside its session reaches the same server and meta.

A server whose socket file was deleted keeps running, unreachable: `stop`
would see "no server" and leave the agents running, and the next `start` would
start a second server on the same path. So `start` records the server's pid
beside the socket, and `revive` asks that server to recreate its socket
(tmux does on SIGUSR1) before anyone concludes there is no server.
"""

from __future__ import annotations

import os
import time

from protocol import privdir
from protocol.errors import UsageError
from protocol.names import KEY_CHARS
from providers.gc_session_tmux.settings import SOCKET, TMUX_TMPDIR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_NAME = SOCKET.default
SIGUSR1 = 10
#: How long a revived server may take to bind its socket again.
REVIVE_WAIT = 2.0


def socket_path(environ: Mapping[str, str]) -> str:
    value = environ.get(SOCKET.name, "")
    if "/" in value:
        if not value.startswith("/"):
            raise UsageError(f"GC_TMUX_SOCKET must be an absolute path or a name: {value!r}")
        return value
    name = value or SOCKET.default
    if not KEY_CHARS.issuperset(name) or name[0] in ".-":
        raise UsageError(f"invalid GC_TMUX_SOCKET name {name!r}")
    base = TMUX_TMPDIR.text(environ)
    return f"{base.rstrip('/')}/tmux-{os.getuid()}/{name}"


def _system_shared(directory: str) -> bool:
    """A directory like /tmp that an operator may name for a socket: root's and sticky
    (nobody can remove or replace what another user made in it)."""
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return st.st_uid == 0 and bool(st.st_mode & 0o1000) and st.st_mode & 0o170000 == 0o040000


def check_dir(socket: str) -> None:
    """The socket's directory, when there, is private (`protocol.privdir`), checked at each
    use: a server behind a socket someone else could plant would see every command, env
    and secret of our sessions. A missing directory is no server (start creates it). A
    socket named straight in a sticky system directory (``GC_TMUX_SOCKET=/tmp/x``) is
    allowed there; the socket itself, when there, must then be ours."""
    directory = os.path.dirname(socket) or "."
    if not os.path.lexists(directory):
        return
    if not _system_shared(directory):
        privdir.check_dir(directory, "tmux socket directory", ours_by_name=_ours_by_name(directory))
        return
    try:
        st = os.lstat(socket)
    except OSError:
        return
    if st.st_uid != os.geteuid() or st.st_mode & 0o170000 != 0o140000:
        raise privdir.Untrusted(f"refusing tmux socket {socket}: owned by uid {st.st_uid}"
                                f"{'' if st.st_mode & 0o170000 == 0o140000 else ', not a socket'}"
                                " (remove it)")


def _ours_by_name(directory: str) -> bool:
    """tmux's own per-user directory (``tmux-<uid>``, where a socket *name* lives): a mode
    others can only read there is narrowed; a directory an operator named never is."""
    return os.path.basename(directory) == f"tmux-{os.getuid()}"


def ensure_dir(socket: str) -> None:
    """Create the socket's directory 0700 (and any missing parent) or check it."""
    directory = os.path.dirname(socket) or "."
    if not _system_shared(directory):
        privdir.ensure_dir(directory, what="tmux socket directory",
                           top_ours_by_name=_ours_by_name(directory))
    check_dir(socket)


def pid_file(socket: str) -> str:
    return socket + ".server-pid"


def record_server(socket: str, pid: int) -> None:
    """Remember which process serves ``socket`` (written atomically)."""
    tmp = f"{pid_file(socket)}.{os.getpid()}.{os.urandom(4).hex()}"
    fd = privdir.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, "pid file")
    try:
        os.write(fd, f"{pid}\n".encode())
    finally:
        os.close(fd)
    os.replace(tmp, pid_file(socket))


def server_pid(socket: str) -> int:
    """The recorded server's pid if it is still a tmux server for ``socket``, else 0."""
    try:
        fd = privdir.open_file(pid_file(socket), os.O_RDONLY, what="pid file")
    except (OSError, privdir.Untrusted):
        return 0
    try:
        raw = os.read(fd, 64).decode("ascii", "replace").strip()
    except OSError:
        return 0
    finally:
        os.close(fd)
    if not raw.isdigit():
        return 0
    pid = int(raw)
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return 0
    # The server keeps the argv of the client that started it: ours, with `-S <socket>`.
    return pid if comm.startswith(b"tmux") and os.fsencode(socket) in argv else 0


def revive(socket: str) -> bool:
    """Recreate a deleted socket of a server that still runs; True if it is back."""
    if os.path.exists(socket):
        return False
    pid = server_pid(socket)
    if not pid:
        return False
    try:
        os.kill(pid, SIGUSR1)
    except OSError:
        return False
    deadline = time.monotonic() + REVIVE_WAIT
    while not os.path.exists(socket):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
