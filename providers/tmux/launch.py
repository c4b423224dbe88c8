"""The start sequence after `new-session`, shared by the local and pod providers.

Order (as Gas City's tmux provider): wait for the agent process → wait for the
ready prompt (or a fixed delay) → check the session survived → session_setup
→ session_setup_script → the config `nudge` → session_live. Waits are bounded
by the start deadline; setup failures are warnings, as upstream. A signal
(`protocol.rollback.Interrupted`) is never a warning: it unwinds to the start's
rollback at any step.
"""

from __future__ import annotations

import os
import sys
import time

from protocol.errors import ProviderError
from protocol.rollback import Interrupted
from providers.tmux import session
from providers.tmux.runner import by_option, command_line, script, script_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from protocol.config import StartConfig
    from providers.tmux.runner import Runner

PROCESS_WAIT = 30.0
READY_WAIT = 60.0
SETUP_TIMEOUT = 10.0
#: Looks at a dead pane until tmux has its exit status (`exited`): seconds, by the clock
#: (a count of polls ran out on a loaded machine before tmux had reaped the command).
STATUS_WAIT = 3.0
#: How long a start without readiness hints watches for a command that ends at once
#: (`{"command": "exit 3"}`), to say so rather than leave is-running's false a surprise.
HINTLESS_LOOK = 0.5


def start_budget() -> float:
    from protocol.settings import START_TIMEOUT_S

    return START_TIMEOUT_S.number(os.environ)


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


#: The kernel refuses to exec a process one of whose environment entries (``KEY=VALUE``
#: and its NUL) is longer than this (MAX_ARG_STRLEN, 32 pages): tmux would leave a dead pane.
ENV_ENTRY_MAX = 128 * 1024
#: What the session's whole environment from the config may take; the exec's argv and
#: environment together must fit in a quarter of the stack limit (2 MiB by default), and the
#: tmux server's own environment comes on top.
ENV_TOTAL_MAX = 1024 * 1024


def check_env(env: Mapping[str, str]) -> None:
    """Refuse, with one line, an environment the session's process could never exec with."""
    total = 0
    for key, value in env.items():
        size = len(key.encode()) + len(value.encode()) + 2
        if size > ENV_ENTRY_MAX:
            raise ProviderError(f"env {key}: {size} bytes with its name; an environment entry "
                                f"may take at most {ENV_ENTRY_MAX // 1024} KiB (the kernel's limit)")
        total += size
    if total > ENV_TOTAL_MAX:
        raise ProviderError(f"env: {total} bytes in all; the session's environment may take "
                            f"at most {ENV_TOTAL_MAX // 1024} KiB")


def new_session_commands(cfg: StartConfig, target: str, *, work_dir: str, env: dict[str, str],
                         width: int = 200, height: int = 50, marker: str = "",
                         holder: str = "") -> tuple[list[list[str]], list[list[str]]]:
    """`new-session` for ``target`` plus the commands run atomically with it, and the
    commands that clean up after them (run whether or not the first ones failed).

    remain-on-exit is set in the same tmux command list, so a command that
    exits at once leaves a dead pane (is-running false, recycled by the next
    start) instead of a vanished session. ``marker`` (``@gc-starting``) says a
    start is still running; the last step of a finished start removes it. The
    list ends by printing the server's pid, which also proves a server took
    the commands (tmux exits 0 when its server cannot create the socket).

    `new-session -c` is expanded as a format, where no escaping keeps every value
    (``##[`` stays as written; ``#(cmd)`` runs a command): the work dir goes to a server
    user option ``holder`` (see `providers.tmux.runner.by_option`) and ``-c`` names it.
    """
    check_env(env)
    exact = f"={target}:"
    args = ["new-session", "-d", "-s", target, "-x", str(width), "-y", str(height)]
    commands: list[list[str]] = []
    cleanup: list[list[str]] = []
    if work_dir:
        holder = holder or f"@gc-value-{os.urandom(8).hex()}"
        store, reference, forget = by_option(holder, work_dir)
        commands.append(store)
        cleanup.append(forget)
        args += ["-c", reference]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    command = cfg.command
    if command and cfg.prompt_suffix:
        command = " ".join(p for p in (command, cfg.prompt_flag, cfg.prompt_suffix) if p)
    unset = cfg.unset_env
    if unset:
        wrapper = ["env"] + [a for key in unset for a in ("-u", key)]
        args += ["--", *wrapper, "/bin/sh", "-c", command] if command else [
            "--", *wrapper, os.environ.get("SHELL") or "/bin/sh"]
    elif command:
        args += ["--", command]
    commands += [args, ["set-option", "-w", "-t", exact, "remain-on-exit", "on"],
                 ["set-option", "-t", exact, "@gc-work-dir", work_dir or ""]]
    if marker:
        commands.append(["set-option", "-t", exact, "@gc-starting", marker])
    commands.append(["display-message", "-p", "-t", exact, "#{pid}"])
    return commands, cleanup


#: The tmux commands that run `new_session_script` from stdin. They may start the
#: server, which keeps this client's argv for its lifetime: no value may be in it.
FROM_STDIN_COMMANDS = (["start-server"], ["source-file", "-"])
FROM_STDIN = command_line(FROM_STDIN_COMMANDS)


def new_session_script(cfg: StartConfig, target: str, *, work_dir: str, env: dict[str, str],
                       marker: str = "") -> bytes:
    """`new_session_commands` as a command file for ``tmux start-server ; source-file -``.

    Env values (secrets among them), the work dir and the command travel on
    stdin: never in any process's argv (a tmux server keeps the argv of the
    client that started it, visible in ``ps``), and with no command-length cap.
    The commands are one line, one command list: when `new-session` fails (a duplicate
    name) none of the rest runs, so nothing marks a session this start did not make; the
    clean-up is the next line, which runs either way.
    """
    commands, cleanup = new_session_commands(cfg, target, work_dir=work_dir, env=env,
                                             marker=marker)
    return script_line(commands) + script(cleanup)


def new_session_args(cfg: StartConfig, target: str, *, work_dir: str, env: dict[str, str],
                     width: int = 200, height: int = 50) -> list[str]:
    """`new_session_commands` as one escaped argv (values visible in ``ps``: no secrets)."""
    commands, cleanup = new_session_commands(cfg, target, work_dir=work_dir, env=env,
                                             width=width, height=height)
    return command_line(commands + cleanup)


def exited(r: Runner) -> str:
    """How the session's command ended (``exited 3``, ``was killed by signal 9``), or ``""``
    while it runs (or when tmux cannot tell). tmux marks a pane dead when its terminal
    closes, a moment before it collects the exit status: a dead pane is asked again
    until the status is in (a bounded wait, only for a dead pane)."""
    fields: list[str] = []
    deadline = time.monotonic() + STATUS_WAIT
    while True:
        res = r.tmux(["display-message", "-p", "-t", session.target(r),
                      "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}"])
        fields = (res.out.decode("utf-8", "replace").strip().split(":") if res.ok else []) + ["", ""]
        if fields[0] != "1":
            return ""
        if fields[1] or fields[2] or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    status, signal = fields[1], fields[2]
    if signal.isdigit() and signal != "0":
        return f"was killed by signal {signal}"
    return f"exited {status}" if status.isdigit() else "exited"


def wait_until(check: Callable[[], bool], seconds: float, interval: float) -> bool:
    deadline = time.monotonic() + max(0.0, seconds)
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _prompt_ready(r: Runner, prefix: str) -> bool:
    want = prefix.replace("\u00a0", " ")
    try:
        text = session.peek(r, 120)
    except Interrupted:
        raise  # a signal is never "not ready yet": the start rolls back
    except ProviderError:
        return False
    for line in text.splitlines():
        line = line.replace("\u00a0", " ").strip()
        if line.startswith(want) or (line and line == want.strip()):
            return True
    return False


def after_create(r: Runner, cfg: StartConfig, name: str, *, deadline: float,
                 setup_env: dict[str, str], setup_cwd: str | None, debounce: str) -> None:
    """Everything `start` does once the session exists."""
    if not cfg.has_hints:
        # Fire-and-forget (as upstream): exit 0 means started. Say so when the command is
        # gone within a short look, or `is-running` answering false next is a surprise.
        ended = ""

        def gone() -> bool:
            nonlocal ended
            ended = exited(r)
            return bool(ended)

        wait_until(gone, HINTLESS_LOOK, 0.05)
        if ended:
            warn(f"the command of session {name!r} already {ended} when start returned; "
                 "is-running will say false")
        return

    def left(cap: float) -> float:
        return max(0.0, min(cap, deadline - time.monotonic()))

    if cfg.process_names:
        waited = time.monotonic()
        found = wait_until(lambda: session.process_alive(r, cfg.process_names)
                           or not session.is_running(r), left(PROCESS_WAIT), 0.1)
        if not found:
            warn(f"none of process_names {list(cfg.process_names)} appeared in session {name!r} "
                 f"within {time.monotonic() - waited:.0f} s; it runs without it, and the next "
                 "start recycles it as a zombie")
    if cfg.ready_prompt_prefix.strip():
        wait_until(lambda: _prompt_ready(r, cfg.ready_prompt_prefix), left(READY_WAIT), 0.2)
    elif cfg.ready_delay_ms:
        time.sleep(left(cfg.ready_delay_ms / 1000))
    if cfg.lifecycle != "one_shot" and not session.is_running(r):
        ended = exited(r)
        raise ProviderError(f"session {name!r} died during startup" +
                            (f" (its command {ended})" if ended else ""))
    run_commands(r, "session_setup", cfg.session_setup, setup_env, setup_cwd)
    if cfg.session_setup_script:
        res = r.script_file(cfg.session_setup_script, env=setup_env, cwd=setup_cwd,
                            timeout=SETUP_TIMEOUT)
        if not res.ok:
            warn(f"session_setup_script: {res.error_text() or f'exit {res.rc}'}")
    if cfg.nudge:
        try:
            session.nudge(r, cfg.nudge.encode(), debounce=debounce)
        except Interrupted:
            raise  # a signal during the nudge rolls the start back, as anywhere else
        except ProviderError as error:
            warn(f"nudge: {error}")
    run_commands(r, "session_live", cfg.session_live, setup_env, setup_cwd)


def run_commands(r: Runner, what: str, commands: tuple[str, ...], env: dict[str, str],
                 cwd: str | None) -> None:
    """Run each command with sh where the session lives; failures are warnings."""
    for i, command in enumerate(commands):
        res = r.shell(command, env=env, cwd=cwd, timeout=SETUP_TIMEOUT)
        if not res.ok:
            warn(f"{what}[{i}]: {res.error_text() or f'exit {res.rc}'}")
