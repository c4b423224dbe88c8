"""`start` for the local provider.

Under a per-session start lock: refuse a live session ("already exists"),
recycle a dead or zombie one, stage overlays and copy_files, run pre_start on
this machine (fatal on failure), create the session, then the shared sequence
in `providers.tmux.launch`. A failure or SIGINT/SIGTERM after creation kills
the session, but only if it still carries this start's instance token.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

from protocol import proc
from protocol.config import StartConfig, parse_start_config
from protocol.errors import ProviderError
from protocol.locks import FileLock, session_lock
from protocol.rollback import Rollback
from providers.gc_session_tmux.local_runner import LocalRunner
from providers.gc_session_tmux.sockets import socket_path
from providers.gc_session_tmux.stop import stop
from providers.tmux import launch, overlay, session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from protocol.dispatch import Call

PRE_START_TIMEOUT = 10.0


def existing_state(r: LocalRunner, process_names: tuple[str, ...]) -> str:
    """``absent``, ``dead`` (no live pane), ``zombie`` (agent gone) or ``live``."""
    res = r.tmux(["list-panes", "-s", "-t", session.session(r), "-F", session.PANES_FORMAT])
    if not res.ok:
        return "absent"
    panes = session.live_panes(res.out)
    if not panes:
        return "dead"
    if process_names and not session.process_alive(r, process_names):
        return "zombie"
    return "live"


def kill_if_ours(r: LocalRunner, token: str) -> None:
    """Roll back only our own session: a racing start may own the name now."""
    if session.get_meta(r, "GC_INSTANCE_TOKEN") == token:
        stop(r)


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


def run_pre_start(cfg: StartConfig, env: dict[str, str], cwd: str | None) -> None:
    for i, command in enumerate(cfg.pre_start):
        try:
            res = proc.run(["sh", "-c", command], env=env, cwd=cwd, timeout=PRE_START_TIMEOUT,
                           new_group=True)
        except proc.Timeout:
            raise ProviderError(f"pre_start[{i}] timed out after {PRE_START_TIMEOUT:g}s") from None
        if not res.ok:
            raise ProviderError(f"pre_start[{i}] failed: {res.error_text() or f'exit {res.rc}'}")


def start(call: Call) -> None:
    name = call["name"]
    cfg = parse_start_config(call.stdin_bytes())
    sock = socket_path(call.environ)
    os.makedirs(os.path.dirname(sock), mode=0o700, exist_ok=True)
    r = LocalRunner(sock, name)
    deadline = time.monotonic() + launch.start_budget()
    env = session_env(cfg, name, sock)
    token = env["GC_INSTANCE_TOKEN"]
    work_dir = cfg.work_dir
    cwd = cfg.env.get("GC_DIR") or work_dir or None
    lock = session_lock("tmux", os.path.basename(sock), name, "start",
                        timeout=max(1.0, deadline - time.monotonic()))
    # The lock is outermost so a rollback finishes before another start may look.
    with start_lock(lock, name), Rollback() as rollback:
        state = existing_state(r, cfg.process_names)
        if state == "live":
            raise ProviderError(f"session {name!r} already exists")
        if state != "absent":
            stop(r)  # a dead pane or a zombie: recycle the name
        if work_dir:
            os.makedirs(work_dir, exist_ok=True)
            overlay.stage(cfg, work_dir)
        setup_env = host_env(cfg, {"GC_SESSION": name, "GC_TMUX_SOCKET": sock,
                                   "GC_INSTANCE_TOKEN": token})
        run_dir = cwd if cwd and os.path.isdir(cwd) else None
        run_pre_start(cfg, setup_env, run_dir)
        res = r.tmux(launch.new_session_args(cfg, name, work_dir=work_dir, env=env))
        if not res.ok:
            if b"duplicate session" in res.err:
                raise ProviderError(f"session {name!r} already exists")
            raise ProviderError(f"creating session: {res.error_text()}")
        rollback.add("kill the new session", lambda: kill_if_ours(r, token))
        launch.after_create(r, cfg, name, deadline=deadline, setup_env=setup_env,
                            setup_cwd=run_dir, debounce=session.debounce_seconds(call.environ))
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
