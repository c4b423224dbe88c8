"""The helper's wire, shared by all who talk to it: where its socket and door are, which
code it runs, how a connection is checked, and the framing.

Imports neither `socket` nor JSON at module level (each only where a connection is made or
a header packed or read), so the executable's helper fast path (`gc_session_k8s.hot`)
loads little more than this module and `posix`: its `answer` op goes through the door
(`ask_door`: a FIFO and files in the runtime dir, `posix` calls only), framed here
without JSON on the client's side. `import socket` alone (it imports `os`, `selectors`,
`enum`, `collections`, `array`) cost that path as much as the rest of its start.

The door: the helper reads request tokens from ``helper-<code hash>.door``, a FIFO of ours
(0600) in the runtime dir. A client writes its request (`answer_request`) to a new file
``q-<token>`` there (0600, ``O_EXCL``), makes a FIFO ``r-<token>`` for the reply, and
writes ``<token>\n`` to the door (one write under ``PIPE_BUF``: atomic, never interleaved
with another client's). The helper opens both with ``O_NOFOLLOW`` and serves them only
when they are of the kind it expects, owned by its uid and closed to others: the file's
owner is the peer's uid (what ``SO_PEERCRED`` tells on the socket), and the 0700 runtime
dir lets no other uid reach either. It unlinks both, writes ``S`` (picked up) and then
the reply as on the socket; a client that hears nothing within `DOOR_PICKUP` seconds, or
whose reply ends early, runs the op itself.

The helper is trusted only when its socket sits in our 0700 runtime dir, is owned by us
with mode 0600, and the process listening on it runs as our uid (``SO_PEERCRED``). A
runtime dir or socket path that is not ours alone (another owner, open modes, a symlink,
a file that is not a socket) is `protocol.privdir.Untrusted`: the op exits 1 with one
line, as for any private state (PROTOCOL.md). Framing (both ways): a 4-byte big-endian
length, a JSON header, then raw bytes whose lengths the header gives. The `answer` op's request carries
every caller-supplied string (argv, environment) in such bytes, and its reply is ``A``, a
4-byte length and the op's stdout, or a framed JSON header saying why it was not answered.

`posix` where `os` is the habit, as in `rundir`.
"""

import posix
import sys

from protocol import privdir
from providers.kube.transport import rundir

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping
    from typing import Any

PROTOCOL = "4"
#: The package's version (pyproject.toml's; the executables' ``--version``).
PACKAGE_VERSION = "0.1.0"
CONNECT_TIMEOUT = 0.5
#: Seconds a client waits for the helper to pick its request up from the door (its ``S``);
#: past that it runs the op itself.
DOOR_PICKUP = 2.0
#: A door request's token: this many hex digits (no path can be made of them).
TOKEN_HEX = 24
#: The modules whose code the helper runs for its clients, from the directory holding our
#: packages: a change to any makes it exit for a helper of the new code
#: (tests/k8s/test_hot_path.py checks the list against what the helper imports).
CODE = tuple(f"providers/kube/transport/{m}.py" for m in (
    "__init__", "helper", "helper_client", "wire", "direct", "websocket", "tls", "kubeconfig",
    "credentials", "resident", "answers", "rundir", "target", "interface")) + tuple(
    f"providers/kube/{m}.py" for m in ("audit", "errors", "retry", "settings", "classify",
                                        "kubectl", "pod_exec")) + tuple(
    f"providers/tmux/{m}.py" for m in ("session", "proctree", "runner", "ops")) + (
    "gc_session_k8s/pod_runner.py", "gc_session_k8s/naming.py", "gc_session_k8s/answer.py",
    "gc_session_k8s/helper.py",
    "gc_session_k8s/hot.py", "gc_session_k8s/settings.py", "protocol/dispatch.py",
    "protocol/settings.py", "protocol/names.py", "protocol/errors.py", "protocol/proc.py",
    "protocol/privdir.py", "protocol/metrics.py", "protocol/oplog.py")
#: The directory holding our packages (this file is <ROOT>/providers/kube/transport/wire.py).
ROOT = (__file__ if __file__.startswith("/") else f"{posix.getcwd()}/{__file__}").rsplit("/", 4)[0]


class Absent(Exception):
    """No helper answers on our socket (none runs, or its socket is stale)."""

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale = stale


_version = ""


def code_version() -> str:
    """``<package version>+<short code hash>`` (``0.1.0+3f9c0a1b2d``), once per process.

    The hash covers the wire protocol and every module in `CODE` as installed here (each
    file's mtime and size: a stat each, no reads, on the tick's path), so two installs, or
    one changed in place, are two versions, and each has its own helper (`socket_name`).
    """
    global _version
    if not _version:
        stamps = [PROTOCOL]
        for name in CODE:
            try:
                st = posix.stat(f"{ROOT}/{name}")
                stamps.append(f"{st.st_mtime_ns:x}.{st.st_size:x}")
            except OSError:
                stamps.append("-")
        # Modulo the largest prime below 2**40: any one stamp changed (by less than it) changes it
        # (a Mersenne modulus cut to 40 bits lost changes that landed in the bits cut).
        digest = int.from_bytes(f"{ROOT}|{','.join(stamps)}".encode(), "big") % 0xFFFFFFFFA9
        _version = f"{PACKAGE_VERSION}+{digest:010x}"
    return _version


def socket_name() -> str:
    """The helper's socket in the runtime dir, keyed by the code it runs: each install's
    clients reach their own helper, and one install's call never makes another's exit."""
    return f"helper-{code_version().rpartition('+')[2]}.sock"


def door_name() -> str:
    """The helper's door (a FIFO) beside its socket, keyed by the same code hash."""
    return f"helper-{code_version().rpartition('+')[2]}.door"


def socket_path(environ: "Mapping[str, str] | None" = None) -> str:
    return f"{rundir.path(environ)}/{socket_name()}"


def pack(header: "dict[str, Any]", *blobs: bytes) -> bytes:
    import json

    head = json.dumps(header, separators=(",", ":")).encode()
    return len(head).to_bytes(4, "big") + head + b"".join(blobs)


def recv_exact(sock: "socket.socket", n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("helper closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_header(sock: "socket.socket") -> "dict[str, Any]":
    import json

    size = int.from_bytes(recv_exact(sock, 4), "big")
    header: dict[str, Any] = json.loads(recv_exact(sock, size))
    return header


def unpack(data: bytes) -> "tuple[dict[str, Any], bytes]":
    """A framed header read from bytes (a door request's file), and the bytes after it."""
    import json

    size = int.from_bytes(data[:4], "big")
    header = json.loads(data[4:4 + size])
    if not isinstance(header, dict):
        raise ValueError("a request's header is not an object")
    return header, data[4 + size:]


def answer_request(answerer: str, argv: "list[str]", stdin: bytes) -> bytes:
    """The `answer` op's request: a JSON header of our own names and lengths only (written
    here, so the client loads no JSON code), then argv and this process's environment
    NUL-separated (``key=value``, as the process got it), its working directory (the
    caller's relative paths mean it) and stdin."""
    args = "\0".join(argv).encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
    environ = b"\0".join(key + b"=" + value for key, value in posix.environ.items())
    cwd = posix.getcwdb()
    head = (f'{{"op":"answer","answerer":"{answerer}","version":"{code_version()}",'
            f'"argv":{len(args)},"environ":{len(environ)},"cwd":{len(cwd)},'
            f'"stdin":{len(stdin)}}}').encode()
    return len(head).to_bytes(4, "big") + head + args + environ + cwd + stdin


def answer_call(header: "dict[str, Any]",
                blobs: bytes) -> "tuple[list[str], dict[str, str], str, bytes]":
    """The helper's reading of `answer_request`'s blobs: argv, environment, the caller's
    working directory, stdin."""
    enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    n_args, n_env, n_cwd = int(header["argv"]), int(header["environ"]), int(header["cwd"])
    argv = blobs[:n_args].decode(enc, errors).split("\0")
    pairs = (item.partition("=") for item in blobs[n_args:n_args + n_env].decode(enc, errors).split("\0"))
    at = n_args + n_env
    cwd = blobs[at:at + n_cwd].decode(enc, errors)
    return argv, {key: value for key, sep, value in pairs if sep}, cwd, blobs[at + n_cwd:]


def answered(out: bytes) -> bytes:
    return b"A" + len(out).to_bytes(4, "big") + out


def recv_answer(sock: "socket.socket") -> "bytes | None":
    """The op's stdout, or None when the helper did not answer it (the client runs it)."""
    if recv_exact(sock, 1) != b"A":
        return None  # a framed header saying why follows: the length's first byte is 0
    return recv_exact(sock, int.from_bytes(recv_exact(sock, 4), "big"))


def peer_uid(sock: "socket.socket") -> int:
    import socket

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # pid, uid, gid
    return int.from_bytes(creds[4:8], sys.byteorder)


def lstat_in(where: str, path: str) -> "posix.stat_result":
    """``path``'s lstat, in the runtime dir ``where`` once that is checked as ours alone:
    `Absent` when nothing is there (no helper), `privdir.Untrusted` for a dir not ours."""
    try:
        st = posix.lstat(path)
    except FileNotFoundError:
        if rundir.is_dir(where):
            rundir.check(where)
        raise Absent("not running") from None
    rundir.check(where)
    return st


def connect(environ: "Mapping[str, str] | None" = None) -> "socket.socket":
    """A checked connection to our helper: `Absent` when none answers, `privdir.Untrusted`
    when what is there is not safely ours."""
    import socket

    where = rundir.path(environ)
    path = f"{where}/{socket_name()}"
    st = lstat_in(where, path)
    if (st.st_mode & 0o170000) != 0o140000:
        raise privdir.Untrusted(f"refusing helper socket {path}: not a socket (remove it)")
    if st.st_uid != posix.geteuid() or st.st_mode & 0o077:
        raise privdir.Untrusted(f"refusing helper socket {path}: owned by uid {st.st_uid} "
                                f"(mode {st.st_mode & 0o777:o}), not ours alone (remove it)")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
    except OSError as error:
        sock.close()
        raise Absent(f"connect: {error.strerror or error}",
                     stale=not isinstance(error, (BlockingIOError, TimeoutError))) from None
    uid = peer_uid(sock)
    if uid != posix.getuid():
        sock.close()
        raise privdir.Untrusted(f"refusing the helper listening on {path}: it runs as uid {uid}")
    return sock


def ask_door(request: bytes, timeout: float,
             environ: "Mapping[str, str] | None" = None) -> "bytes | None":
    """Hand ``request`` (`answer_request`) to our helper through its door: the op's stdout,
    or None when the helper did not answer it whole (the client runs it). `Absent`: no
    helper reads the door; `privdir.Untrusted`: what is there is not safely ours."""
    where = rundir.path(environ)
    door = f"{where}/{door_name()}"
    st = lstat_in(where, door)
    if (st.st_mode & 0o170000) != 0o010000 or st.st_uid != posix.geteuid() or st.st_mode & 0o077:
        raise privdir.Untrusted(f"refusing helper door {door}: not a FIFO of ours alone with "
                                f"mode 0600 (mode {st.st_mode & 0o7777:o}, uid {st.st_uid}; "
                                "remove it)")
    token = posix.urandom(TOKEN_HEX // 2).hex()
    query, reply = f"{where}/q-{token}", f"{where}/r-{token}"
    flags = posix.O_CLOEXEC | posix.O_NOFOLLOW
    answer = -1
    try:
        fd = posix.open(query, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | flags, 0o600)
        try:
            rundir.write_all(fd, request)
        finally:
            posix.close(fd)
        posix.mkfifo(reply, 0o600)
        answer = posix.open(reply, posix.O_RDONLY | posix.O_NONBLOCK | flags)
        try:  # no reader (ENXIO): no helper behind it
            fd = posix.open(door, posix.O_WRONLY | posix.O_NONBLOCK | flags)
        except OSError as error:
            raise Absent(f"door: {error.strerror or error}", stale=True) from None
        try:
            posix.write(fd, f"{token}\n".encode())  # under PIPE_BUF: one atomic write
        except OSError as error:  # full (EAGAIN) or its reader just left (EPIPE)
            raise Absent(f"door: {error.strerror or error}") from None
        finally:
            posix.close(fd)
        return read_reply(answer, timeout)
    finally:
        if answer >= 0:
            posix.close(answer)
        for path in (query, reply):  # the helper unlinks both when it takes them
            try:
                posix.unlink(path)
            except OSError:
                pass


def read_reply(fd: int, timeout: float) -> "bytes | None":
    """The op's stdout from a door reply (``S``, then `answered`'s framing), or None: an
    unserved header, nothing within `DOOR_PICKUP` (or ``timeout`` once picked up), a reply
    that ended early."""
    import select
    import time

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    deadline = time.monotonic() + DOOR_PICKUP
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return None
        chunk = posix.read(fd, 1 << 16)
        if not chunk:
            break  # the helper closed its end: the reply is whole, or it died
        if not chunks:
            deadline = time.monotonic() + timeout
        chunks.append(chunk)
    data = b"".join(chunks)
    if data[:2] != b"SA" or len(data) < 6 or int.from_bytes(data[2:6], "big") != len(data) - 6:
        return None
    return data[6:]
