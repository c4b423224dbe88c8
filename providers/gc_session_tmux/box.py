"""The local box: `exec`, `provision`, `proc-stream`, `watch-startup` and the
transcripts copy-back of `gc-session-tmux`.

A local session's box is this machine. `start` and `provision` record what the box
is (its work dir and the session's environment) in a private state file
(``<state>/tmux/boxes/<socket scope>/<name>/box.json``, 0600 in 0700 directories,
`protocol.privdir`); `stop` removes it. `exec` reads it and becomes
``sh -c <command>`` in that work dir with that environment (stderr joined to
stdout, the op's exit the command's). So a box exists from `provision` on, before
any agent runs, and `exec` works there; `is-running` stays false until a launch.

Gas City drives a box that declares ``proc.exec`` through `exec` with tmux commands
aimed at a session named ``main`` (``send-keys -t main``, ``new-session -d -s main
<cmd>`` to launch after `provision`, ``respawn-pane -k -t main`` to relaunch). Our
sessions share one server under their own names, so `exec` puts a ``tmux`` of the
box's first on PATH (``bin/tmux`` beside box.json): it runs
``python -m providers.gc_session_tmux.box carry ...``, which hands the command to
`providers.tmux.box.carry` for this session on this provider's socket.
"""

from __future__ import annotations

import os
import sys

from protocol import privdir
from protocol.errors import ExitWith, ProviderError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from protocol.config import StartConfig
    from protocol.dispatch import Call
    from providers.gc_session_tmux.local_runner import LocalRunner

RECORD = "box.json"


def box_dir(sock: str, name: str, *, create: bool) -> str:
    """The box's private directory (created when ``create``), or "" when missing."""
    from protocol.locks import state_base

    # The whole socket path: two servers' sessions of one name are two boxes.
    scope = sock.replace("%", "%25").replace("/", "%2F")
    if create:
        return privdir.ensure_dir(state_base(), "tmux", "boxes", scope, name,
                                  top_ours_by_name=not os.environ.get("GC_EXEC_STATE_DIR"))
    where = os.path.join(state_base(), "tmux", "boxes", scope, name)
    if not os.path.isdir(where):
        return ""
    privdir.check_dir(where, ours_by_name=True)
    return where


def write_record(sock: str, name: str, work_dir: str, env: dict[str, str],
                 unset: list[str]) -> None:
    import orjson

    where = box_dir(sock, name, create=True)
    data = orjson.dumps({"work_dir": work_dir, "env": env, "unset": unset})
    tmp = os.path.join(where, f".{RECORD}.{os.getpid()}")
    fd = privdir.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, "box record")
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, os.path.join(where, RECORD))


def read_record(sock: str, name: str) -> dict[str, object] | None:
    import orjson

    where = box_dir(sock, name, create=False)
    if not where:
        return None
    try:
        fd = privdir.open_file(os.path.join(where, RECORD), os.O_RDONLY, 0o600, "box record")
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    doc = orjson.loads(b"".join(chunks))
    return doc if isinstance(doc, dict) else None


def remove_record(sock: str, name: str) -> None:
    try:
        where = box_dir(sock, name, create=False)
    except ProviderError:
        return
    if not where:
        return
    for leaf in (os.path.join("bin", "tmux"), RECORD):
        try:
            os.unlink(os.path.join(where, leaf))
        except FileNotFoundError:
            pass
    for empty in (os.path.join(where, "bin"), where):
        try:
            os.rmdir(empty)
        except OSError:
            pass


def record_start(sock: str, name: str, cfg: StartConfig, env: dict[str, str]) -> None:
    """What `start` and `provision` remember of the box (see the module docstring)."""
    write_record(sock, name, os.path.abspath(cfg.work_dir) if cfg.work_dir else "", env,
                 cfg.unset_env)


# --- exec -----------------------------------------------------------------------

#: The box's ``tmux``. The commands gc sends on every tick (send-keys, capture-pane,
#: clear-history, has-session) are run here, in sh, against the session's exact target (an
#: argument ending in ``;`` gets its backslash, as `providers.tmux.runner.escape` does);
#: anything else, launches included, goes to `carry_main`.
SHIM = r"""#!/bin/sh
tmux=@TMUX@ sock=@SOCK@ name=@NAME@
case ${1-} in
  send-keys|capture-pane|clear-history|has-session)
    n=$# i=0 prev=
    while [ "$i" -lt "$n" ]; do
      a=$1; shift; i=$((i + 1))
      case $prev:$a in
        -t:main) if [ "$i" -gt 1 ] && [ "$verb" = has-session ]; then a="=$name"; else a="=$name:"; fi ;;
        *\;) a="${a%;}\;" ;;
      esac
      [ "$i" -eq 1 ] && verb=$a
      prev=$a; set -- "$@" "$a"
    done
    exec "$tmux" -u -S "$sock" "$@" ;;
esac
exec @PYTHON@ -P -m providers.gc_session_tmux.box carry "$tmux" "$sock" "$name" "$@"
"""


def _shim(where: str, tmux: str, sock: str, name: str) -> str:
    """The box's ``tmux`` (see the module docstring); its directory, for PATH."""
    from providers.tmux.runner import sh_quote

    bin_dir = privdir.ensure_dir(where, "bin", top_ours_by_name=True)
    body = (SHIM.replace("@TMUX@", sh_quote(tmux)).replace("@SOCK@", sh_quote(sock))
            .replace("@NAME@", sh_quote(name)).replace("@PYTHON@", sh_quote(sys.executable)))
    path = os.path.join(bin_dir, "tmux")
    try:
        fd = privdir.open_file(path, os.O_RDONLY, 0o700, "box tmux")
        try:
            same = os.read(fd, 1 << 16) == body.encode()
        finally:
            os.close(fd)
        if same:
            return bin_dir
    except FileNotFoundError:
        pass
    tmp = os.path.join(bin_dir, f".tmux.{os.getpid()}")
    fd = privdir.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700, "box tmux")
    try:
        os.write(fd, body.encode())
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    return bin_dir


def box_environment(call: Call, sock: str, record: Mapping[str, object],
                    where: str) -> tuple[dict[str, str], str]:
    """The environment and work dir a command in the box runs with: the op's own
    environment (gc's), minus the config's unset variables, plus the session's."""
    from providers.gc_session_tmux.local_runner import tmux_binary

    name = call["name"]
    unset = {str(k) for k in record.get("unset") or ()}  # type: ignore[attr-defined]
    env = {k: v for k, v in os.environ.items() if k not in unset and k not in ("TMUX", "TMUX_PANE")}
    session_env = record.get("env") or {}
    if isinstance(session_env, dict):
        env.update({str(k): str(v) for k, v in session_env.items()})
    env.setdefault("GC_SESSION", name)
    tmux = tmux_binary(os.environ)
    env["PATH"] = _shim(where, tmux, sock, name) + ":" + env.get("PATH", "/usr/bin:/bin")
    work_dir = str(record.get("work_dir") or "")
    return env, work_dir


def open_box(call: Call) -> tuple[dict[str, str], str]:
    from providers.gc_session_tmux.sockets import socket_path

    sock = socket_path(call.environ)
    name = call["name"]
    record = read_record(sock, name)
    if record is None:
        record = adopt(sock, name)
    if record is None:
        raise ProviderError(f"session {name!r} not found (no box: start or provision it first)")
    return box_environment(call, sock, record, box_dir(sock, name, create=False))


def adopt(sock: str, name: str) -> dict[str, object] | None:
    """The box of a session started before boxes were recorded: its work dir as start
    left it on the session, its name and socket; recorded for the next call."""
    from providers.gc_session_tmux.local_runner import LocalRunner
    from providers.tmux import session

    r = LocalRunner(sock, name)
    res = r.tmux(["show-options", "-qv", "-t", session.target(r), "@gc-work-dir"])
    if not res.ok or not session.pane_pids(r):
        return None
    work_dir = res.out.decode("utf-8", "replace").rstrip("\n")
    env = {"GC_SESSION": name, "GC_TMUX_SOCKET": sock, "GC_TMUX_SESSION": name}
    write_record(sock, name, work_dir if os.path.isabs(work_dir) else "", env, [])
    return {"work_dir": work_dir if os.path.isabs(work_dir) else "", "env": env, "unset": []}


def enter(work_dir: str, name: str) -> None:
    if work_dir:
        try:
            os.chdir(work_dir)
        except OSError as error:
            raise ProviderError(f"session {name!r}: work dir {work_dir}: {error.strerror}") from None


def exec_op(call: Call) -> None:
    """Become ``sh -c <command>`` in the box: the op's exit is the command's."""
    from providers.tmux.box import command

    cmd = command(call.stdin_bytes(), "exec")
    env, work_dir = open_box(call)
    enter(work_dir, call["name"])
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(1, 2)  # combined output, as gc reads it
    try:
        os.execve("/bin/sh", [b"sh", b"-c", cmd], env)
    except OSError as error:
        raise ProviderError(f"exec: /bin/sh: {error.strerror}") from None


# --- proc-stream ------------------------------------------------------------------

def proc_stream(call: Call) -> None:
    """Run the command in the box with this op's own stdout and stderr (so every write
    reaches gc as it happens, the two kept apart) and no input, under the guard, in a
    process group of its own: a SIGTERM/SIGINT/SIGHUP kills that group, and a SIGKILL
    of this op makes the guard kill it (parent-death signal). Exit: the command's."""
    import signal

    from providers.tmux.box import command

    cmd = command(call.stdin_bytes(), "proc-stream")
    env, work_dir = open_box(call)
    enter(work_dir, call["name"])
    argv = [sys.executable, "-P", "-m", "providers.gc_session_tmux.guard", str(os.getpid()),
            "/bin/sh", "-c", cmd.decode("utf-8", "surrogateescape")]
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    sys.stdout.flush()
    pid = os.posix_spawn(argv[0], argv, env, setpgroup=0,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0)])
    os.close(devnull)

    def cancel(signum: int, frame: object) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, cancel)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    raise ExitWith(128 - rc if rc < 0 else rc)


# --- watch-startup ----------------------------------------------------------------

def watch_startup(r: LocalRunner) -> None:
    """Snapshots on stdout until gc cancels (any signal or a closed stdout: exit 0)."""
    import signal
    import time

    from providers.tmux.box import watch

    def done(signum: int = 0, frame: object = None) -> None:
        os._exit(0)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, done)
    out = sys.stdout.buffer

    def write(line: bytes) -> None:
        try:
            out.write(line)
            out.flush()
        except (BrokenPipeError, OSError):
            done()

    watch(r, write, sleep=time.sleep)


# --- transcripts --------------------------------------------------------------------

def copy_transcripts(environ: Mapping[str, str]) -> None:
    """``$GC_TRANSCRIPTS_SRC`` (in the box: here) copied into ``$GC_TRANSCRIPTS_DEST``
    through the contained copy: links out of the tree are skipped, and nothing is written
    through a link at the destination. Both come in the op's environment."""
    from providers.tmux import overlay

    src = environ.get("GC_TRANSCRIPTS_SRC", "")
    dest = environ.get("GC_TRANSCRIPTS_DEST", "")
    if not src or not dest or not os.path.isdir(src):
        return
    if not os.path.isabs(dest):
        raise ProviderError(f"GC_TRANSCRIPTS_DEST must be an absolute path: {dest!r}")
    os.makedirs(dest, exist_ok=True)
    overlay.copy_into(dest, src, "")


# --- capabilities ---------------------------------------------------------------------

def on_path(program: str, environ: Mapping[str, str]) -> bool:
    return any(os.access(os.path.join(d or ".", program), os.X_OK)
               for d in environ.get("PATH", "").split(":"))


def env_capabilities(environ: Mapping[str, str]) -> list[str]:
    """The env.* guarantees this box keeps (README: how each is decided). The box is
    this machine with the caller's PATH: tooling when gc, bd and git are on it, the
    ledger when bd is (the GC_BEADS_API URL reaches a loopback server as it is)."""
    caps = ["env.workspace", "env.identity", "env.transcripts"]
    if all(on_path(p, environ) for p in ("gc", "bd", "git")):
        caps.append("env.tooling")
    if on_path("bd", environ):
        caps.append("env.ledger")
    return caps


# --- the carrier (`bin/tmux` of a box) -------------------------------------------------

def remember_server(r: LocalRunner) -> None:
    """A launch may have started the server: its pid beside the socket, as `start` keeps
    it (`providers.gc_session_tmux.sockets.revive`)."""
    from providers.gc_session_tmux import sockets

    res = r.tmux(["display-message", "-p", "#{pid}"])
    pid = res.out.decode("utf-8", "replace").strip()
    if res.ok and pid.isdigit():
        try:
            sockets.record_server(r.socket_path, int(pid))
        except OSError:
            pass  # revive then finds no pid: the same as a server started by hand


def carry_main(argv: list[str]) -> int:
    """``carry <tmux> <socket> <name> <tmux args>...``: one carried tmux command."""
    from providers.gc_session_tmux.local_runner import LocalRunner
    from providers.tmux.box import Launch, carry

    if len(argv) < 3:
        sys.stderr.write("usage: box carry <tmux> <socket> <name> <args>...\n")
        return 1
    tmux, sock, name, args = argv[0], argv[1], argv[2], argv[3:]
    try:
        record = read_record(sock, name) or {}
        env = record.get("env") or {}
        launch = Launch(str(record.get("work_dir") or ""),
                        {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {})
        r = LocalRunner(sock, name, {"GC_TMUX": tmux})
        res = carry(r, args, launch)
        if res.ok and args[:1] in (["new-session"], ["new"]):
            remember_server(r)
    except ProviderError as error:
        sys.stderr.write(f"tmux: {error}\n")
        return 1
    sys.stdout.buffer.write(res.out)
    sys.stdout.flush()
    sys.stderr.buffer.write(res.err)
    return res.rc if res.rc >= 0 else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["carry"]:
        sys.exit(carry_main(sys.argv[2:]))
    sys.stderr.write("usage: python -m providers.gc_session_tmux.box carry ...\n")
    sys.exit(1)
