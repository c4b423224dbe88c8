"""The helper's wire, shared by all who talk to it: where its socket is, which code it
runs, how a connection is checked, and the framing.

Imports `socket` (JSON only when a header is packed or read), so the
executable's quickest path (`gc_session_k8s.hot`) loads little more than this module: its
`answer` op is framed here without JSON on the client's side.

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
import socket
import sys

from protocol import privdir
from providers.kube.transport import rundir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PROTOCOL = "4"
#: The package's version (pyproject.toml's; the executables' ``--version``).
PACKAGE_VERSION = "0.1.0"
CONNECT_TIMEOUT = 0.5
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
    "protocol/privdir.py")
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
        digest = int.from_bytes(f"{ROOT}|{','.join(stamps)}".encode(), "big") % 0x1FFFFFFFFFFFFFFF
        _version = f"{PACKAGE_VERSION}+{digest:016x}"[:len(PACKAGE_VERSION) + 11]
    return _version


def socket_name() -> str:
    """The helper's socket in the runtime dir, keyed by the code it runs: each install's
    clients reach their own helper, and one install's call never makes another's exit."""
    return f"helper-{code_version().rpartition('+')[2]}.sock"


def socket_path(environ: "Mapping[str, str] | None" = None) -> str:
    return f"{rundir.path(environ)}/{socket_name()}"


def pack(header: "dict[str, Any]", *blobs: bytes) -> bytes:
    import json

    head = json.dumps(header, separators=(",", ":")).encode()
    return len(head).to_bytes(4, "big") + head + b"".join(blobs)


def recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("helper closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_header(sock: socket.socket) -> "dict[str, Any]":
    import json

    size = int.from_bytes(recv_exact(sock, 4), "big")
    header: dict[str, Any] = json.loads(recv_exact(sock, size))
    return header


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


def recv_answer(sock: socket.socket) -> "bytes | None":
    """The op's stdout, or None when the helper did not answer it (the client runs it)."""
    if recv_exact(sock, 1) != b"A":
        return None  # a framed header saying why follows: the length's first byte is 0
    return recv_exact(sock, int.from_bytes(recv_exact(sock, 4), "big"))


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # pid, uid, gid
    return int.from_bytes(creds[4:8], sys.byteorder)


def connect(environ: "Mapping[str, str] | None" = None) -> socket.socket:
    """A checked connection to our helper: `Absent` when none answers, `privdir.Untrusted`
    when what is there is not safely ours."""
    where = rundir.path(environ)
    path = f"{where}/{socket_name()}"
    try:
        st = posix.lstat(path)
    except FileNotFoundError:
        if rundir.is_dir(where):
            rundir.check(where)
        raise Absent("not running") from None
    rundir.check(where)
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
