"""`start` for the local provider.

Under a per-session start lock: refuse a live session ("already exists"),
recycle a dead, zombie or abandoned one, stage overlays and copy_files, run
pre_start on this machine (fatal on failure), create the session, then the
shared sequence in `providers.tmux.launch`.

Crash safety. The session is created carrying ``@gc-starting`` = this
start's pid, process start time and a random tag; the last step removes it.
A session that still carries it when the next start looks, and whose starter
is no longer running, was left by a start that was SIGKILLed (Gas City's
timeout) or crashed: it is recycled, not reported as "already exists". A
failure or SIGINT/SIGTERM after creation kills the session, but only if it
still carries this start's marker. The tmux call that creates the session
runs in its own process group with signals held until it returns, so a
signal can never land between "tmux created it" and "rollback knows it".
Commands run on the host (pre_start, setup) go through
`providers.gc_session_tmux.guard`, so they die with a SIGKILLed start.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import contextmanager

from protocol import proc
from protocol.config import StartConfig, parse_start_config
from protocol.errors import ProviderError
from protocol.locks import FileLock, session_lock
from protocol.rollback import Rollback
from protocol.starts import new_marker, starter_alive
from providers.gc_session_tmux import box, sockets
from providers.gc_session_tmux.local_runner import LocalRunner
from providers.gc_session_tmux.sockets import socket_path
from providers.gc_session_tmux.stop import stop
from providers.tmux import launch, overlay, session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from protocol.dispatch import Call

PRE_START_TIMEOUT = 10.0
CREATE_TIMEOUT = 15.0
CREATE_ATTEMPTS = 4
SERVER_EXITING = (b"server exited unexpectedly", b"lost server")
STARTING = "@gc-starting"
#: Set by the last step to the marker it removed from STARTING: still "ours" for a
#: rollback that a signal starts between that step and the commit.
STARTED = "@gc-started"
STATE_FORMAT = "#{@gc-starting} " + session.PANES_FORMAT


def existing_state(r: LocalRunner, process_names: tuple[str, ...]) -> str:
    """``absent``, ``dead`` (no live pane), ``abandoned`` (its start died),
    ``starting`` (its start still runs), ``zombie`` (agent gone) or ``live``."""
    res = r.tmux(["list-panes", "-s", "-t", session.target(r), "-F", STATE_FORMAT])
    if not res.ok:
        return "absent"
    marker, _, _ = res.out.decode("utf-8", "replace").partition(" ")
    if marker:
        return "starting" if starter_alive(marker) else "abandoned"
    panes = session.live_panes(b"\n".join(line.partition(b" ")[2] for line in res.out.splitlines()))
    if not panes:
        return "dead"
    if process_names and not session.process_alive(r, process_names):
        return "zombie"
    return "live"


def kill_if_ours(r: LocalRunner, marker: str) -> None:
    """Roll back only our own session: a racing start may own the name now.

    Quiet by design: the start's own error is the one line on stderr, and a
    session this misses is still marked, so the next start recycles it.
    """
    try:
        res = r.tmux(["display-message", "-p", "-t", session.target(r),
                      f"#{{{STARTING}}} #{{{STARTED}}}"])
        if res.ok and marker in res.out.decode("utf-8", "replace").split():
            stop(r)
    except Exception:  # rollback is best-effort and must stay silent
        pass


def session_env(cfg: StartConfig, name: str, sock: str) -> dict[str, str]:
    env = dict(cfg.set_env)
    env.setdefault("GC_INSTANCE_TOKEN", os.urandom(16).hex())
    env["GC_TMUX_SOCKET"] = sock
    env["GC_TMUX_SESSION"] = name
    if cfg.ready_prompt_prefix.strip():
        env["GC_READY_PROMPT_PREFIX"] = cfg.ready_prompt_prefix
    return env


def host_env(cfg: StartConfig, extra: dict[str, str]) -> dict[str, str]:
    """The environment of pre_start and setup commands: ours plus the config's."""
    env = {k: v for k, v in os.environ.items() if k not in cfg.env or cfg.env[k] != ""}
    env.update(cfg.set_env)
    env.update(extra)
    return env


def guarded(argv: Sequence[str]) -> list[str]:
    """``argv`` run under `providers.gc_session_tmux.guard` (dies with this process)."""
    # -P: the command runs in the work dir, whose own `providers/` must never be imported.
    return [sys.executable, "-P", "-m", "providers.gc_session_tmux.guard", str(os.getpid()), *argv]


def run_pre_start(cfg: StartConfig, env: dict[str, str], cwd: str | None) -> None:
    for i, command in enumerate(cfg.pre_start):
        try:
            res = proc.run(guarded(["sh", "-c", command]), env=env, cwd=cwd,
                           timeout=PRE_START_TIMEOUT, new_group=True)
        except proc.Timeout:
            raise ProviderError(f"pre_start[{i}] timed out after {PRE_START_TIMEOUT:g}s") from None
        if not res.ok:
            raise ProviderError(f"pre_start[{i}] failed: {res.error_text() or f'exit {res.rc}'}")


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP for a short critical section, then deliver them."""
    pending: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: pending.append(signum))
                for sig in Rollback.SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])  # now the rollback's handler runs


def create(r: LocalRunner, cfg: StartConfig, name: str, *, work_dir: str, env: dict[str, str],
           marker: str) -> None:
    """Create the session from a command file on stdin (no value ever in argv)."""
    data = launch.new_session_script(cfg, name, work_dir=work_dir, env=env, marker=marker)
    for attempt in range(CREATE_ATTEMPTS):
        with signals_held():
            res = r.tmux(*launch.FROM_STDIN_COMMANDS, stdin=data, timeout=CREATE_TIMEOUT)
        # Recycling the server's last session makes it exit; a client that connected
        # meanwhile is dropped; a server exits only once it has no session, so none of
        # our commands took effect and trying again is safe.
        if res.ok or not any(m in res.err for m in SERVER_EXITING) or attempt + 1 == CREATE_ATTEMPTS:
            break
        time.sleep(0.05 * (attempt + 1))
    if not res.ok:
        if b"duplicate session" in res.err:
            raise ProviderError(f"session {name!r} already exists")
        raise ProviderError(f"creating session: {res.error_text() or f'tmux exit {res.rc}'}")
    pid = res.out.decode("utf-8", "replace").strip()
    if not pid.isdigit():  # tmux exits 0 even when its new server cannot create the socket
        why = res.error_text() or "no tmux server answered"
        raise ProviderError(f"creating session: tmux server at {r.socket_path} is not reachable: "
                            f"{why}")
    try:
        sockets.record_server(r.socket_path, int(pid))
    except OSError as error:
        raise ProviderError(f"recording the tmux server pid beside {r.socket_path}: "
                            f"{error.strerror}") from None


def finish(r: LocalRunner, name: str, marker: str) -> None:
    """The last step: mark the session started (if still ours), which proves it exists."""
    exact = session.target(r)
    res = r.tmux(["if-shell", "-F", "-t", exact, f"#{{==:#{{{STARTING}}},{marker}}}",
                  f"set-option -t {exact} -u {STARTING} ; set-option -t {exact} {STARTED} {marker}"])
    if not res.ok:
        raise ProviderError(f"session {name!r} vanished during startup"
                            if session.is_missing(res) else f"finishing start: {res.error_text()}")


def ensure_socket_dir(sock: str) -> None:
    directory = os.path.dirname(sock)
    sockets.ensure_dir(sock)  # 0700 and ours, or refused (`protocol.privdir`)
    if not os.path.exists(sock) and not os.access(directory, os.W_OK):
        raise ProviderError(f"cannot create the tmux socket in {directory}: not writable")


def begin(call: Call) -> tuple[str, StartConfig, str, LocalRunner, dict[str, str]]:
    """What start and provision both begin with: the name, the parsed config, the socket (its
    directory checked), a guarded runner and the session's environment, checked before
    anything runs or is created."""
    name = call["name"]
    cfg = parse_start_config(call.stdin_bytes())
    sock = socket_path(call.environ)
    ensure_socket_dir(sock)
    r = LocalRunner(sock, name)
    r.guard = guarded
    env = session_env(cfg, name, sock)
    launch.check_env(env)
    return name, cfg, sock, r, env


def start(call: Call) -> None:
    name, cfg, sock, r, env = begin(call)
    r.own_group = True
    deadline = time.monotonic() + launch.start_budget()
    marker = new_marker()
    work_dir = cfg.work_dir
    cwd = cfg.env.get("GC_DIR") or work_dir or None
    lock = session_lock("tmux", os.path.basename(sock), name, "start",
                        timeout=max(1.0, deadline - time.monotonic()))
    # The lock is outermost so a rollback finishes before another start may look.
    with start_lock(lock, name), Rollback() as rollback:
        state = existing_state(r, cfg.process_names)
        if state == "live":
            raise ProviderError(f"session {name!r} already exists")
        if state == "starting":
            raise ProviderError(f"session {name!r} already exists (another start is in progress)")
        if state != "absent":
            stop(r)  # a dead pane, a zombie or an abandoned start: recycle the name
        if work_dir:
            os.makedirs(work_dir, exist_ok=True)
            overlay.stage(cfg, work_dir)
        setup_env = host_env(cfg, {"GC_SESSION": name, "GC_TMUX_SOCKET": sock,
                                   "GC_INSTANCE_TOKEN": env["GC_INSTANCE_TOKEN"]})
        run_dir = cwd if cwd and os.path.isdir(cwd) else None
        run_pre_start(cfg, setup_env, run_dir)
        rollback.add("forget the box", lambda: box.remove_record(sock, name))
        box.record_start(sock, name, cfg, env)  # what exec runs in (work dir, env)
        rollback.add("kill the new session", lambda: kill_if_ours(r, marker))
        create(r, cfg, name, work_dir=work_dir, env=env, marker=marker)
        launch.after_create(r, cfg, name, deadline=deadline, setup_env=setup_env,
                            setup_cwd=run_dir, debounce=session.debounce_seconds(call.environ))
        with signals_held():  # a signal during the last step is handled after it, then undoes it
            finish(r, name, marker)
        rollback.commit()


@contextmanager
def start_lock(lock: FileLock, name: str) -> Iterator[None]:
    """Serialize starts of one name; a start still holding it means "already exists"."""
    try:
        lock.__enter__()
    except ProviderError:
        # gc must not read this as a failed start (it would stop the live session).
        raise ProviderError(f"session {name!r} already exists (another start is in progress)") from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def provision(call: Call) -> None:
    """`start` minus the agent: overlays, copy_files, pre_start, session_setup,
    session_setup_script and session_live run; no tmux session is made."""
    name, cfg, sock, r, env = begin(call)
    cwd = cfg.env.get("GC_DIR") or cfg.work_dir or None
    lock = session_lock("tmux", os.path.basename(sock), name, "start",
                        timeout=launch.start_budget())
    with start_lock(lock, name), Rollback() as rollback:
        if session.is_running(r):
            raise ProviderError(f"session {name!r} already exists")
        if cfg.work_dir:
            os.makedirs(cfg.work_dir, exist_ok=True)
            overlay.stage(cfg, cfg.work_dir)
        setup_env = host_env(cfg, {"GC_SESSION": name, "GC_TMUX_SOCKET": sock,
                                            "GC_INSTANCE_TOKEN": env["GC_INSTANCE_TOKEN"]})
        run_dir = cwd if cwd and os.path.isdir(cwd) else None
        run_pre_start(cfg, setup_env, run_dir)
        rollback.add("forget the box", lambda: box.remove_record(sock, name))
        box.record_start(sock, name, cfg, env)
        launch.run_commands(r, "session_setup", cfg.session_setup, setup_env, run_dir)
        if cfg.session_setup_script:
            res = r.script_file(cfg.session_setup_script, env=setup_env, cwd=run_dir,
                                timeout=launch.SETUP_TIMEOUT)
            if not res.ok:
                launch.warn(f"session_setup_script: {res.error_text() or f'exit {res.rc}'}")
        launch.run_commands(r, "session_live", cfg.session_live, setup_env, run_dir)
        rollback.commit()
