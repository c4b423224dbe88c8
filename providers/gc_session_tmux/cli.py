"""`gc-session-tmux`: Gas City sessions in local tmux, one operation per process.

Hot operations (is-running, process-alive, get-meta, get-last-activity, peek,
list-running, nudge) import only the standard library, `protocol` and the
session logic; everything else is imported inside its handler.
"""

from __future__ import annotations

import os

from protocol.dispatch import Call, Operation
from protocol.dispatch import main as dispatch_main
from protocol.observe import observe_operations
from protocol.settings import help_section
from providers.gc_session_tmux.local_runner import LocalRunner
from providers.gc_session_tmux.settings import TABLE
from providers.gc_session_tmux.sockets import socket_path
from providers.tmux import session
from providers.tmux.ops import VALIDATORS, session_operations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.locks import FileLock

EXE = "gc-session-tmux"
VERSION = "0.1.0"
#: Declared only once verified by the conformance kit (see PROTOCOL.md, shipped in `protocol`).
#: The env.* guarantees are added per call (`providers.gc_session_tmux.box.env_capabilities`).
CAPABILITIES = ["report-activity", "report-attachment", "proc.exec", "proc.provision", "proc.stream"]


def runner(call: Call) -> LocalRunner:
    return LocalRunner(socket_path(call.environ), call["name"])


def nudge_lock(call: Call, r: LocalRunner) -> FileLock:
    from protocol.locks import session_lock

    return session_lock("tmux", os.path.basename(r.socket_path), call["name"], "nudge", 25.0)


def op_start(call: Call) -> None:
    from providers.gc_session_tmux.start import start

    start(call)


def op_stop(call: Call) -> None:
    from providers.gc_session_tmux import box
    from providers.gc_session_tmux.stop import stop

    r = runner(call)
    existed = box.read_record(r.socket_path, r.target) is not None or bool(session.pane_pids(r))
    stop(r)
    if existed:  # the box's transcripts come back once its processes are gone
        box.copy_transcripts(call.environ)
    box.remove_record(r.socket_path, r.target)


def op_provision(call: Call) -> None:
    from providers.gc_session_tmux.start import provision

    provision(call)


def op_exec(call: Call) -> None:
    from providers.gc_session_tmux.box import exec_op

    exec_op(call)


def op_proc_stream(call: Call) -> None:
    from providers.gc_session_tmux.box import proc_stream

    proc_stream(call)


def op_watch_startup(call: Call) -> None:
    from providers.gc_session_tmux.box import watch_startup

    watch_startup(runner(call))


def op_list_running(call: Call) -> str:
    prefix = call["prefix"]
    r = LocalRunner(socket_path(call.environ), "")
    res = r.tmux(["list-panes", "-a", "-F", "#{pane_dead} #{session_name}"])
    if not res.ok:
        return ""
    live = sorted({line[2:] for line in res.out.decode("utf-8", "replace").splitlines()
                   if line.startswith("0 ") and line[2:].startswith(prefix)})
    return "\n".join(live)


def op_attach(call: Call) -> None:
    from protocol import proc
    from protocol.errors import ProviderError

    r = runner(call)
    if not session.pane_pids(r):  # dead panes count: a finished agent's screen is still there
        raise ProviderError(f"session {call['name']!r} not found")
    proc.replace([*r.base, "attach-session", "-t", session.session(r)])


def op_copy_to(call: Call) -> None:
    from providers.gc_session_tmux.copy import copy_to

    copy_to(runner(call), call["src"], call["rel_dst"])


def op_doctor(call: Call) -> None:
    from providers.gc_session_tmux.doctor import main

    main(call.rest)


def op_protocol(call: Call) -> str:
    from protocol.handshake import handshake
    from providers.gc_session_tmux.box import env_capabilities

    return handshake(CAPABILITIES + env_capabilities(call.environ))


OPERATIONS: dict[str, Operation] = {
    "start": Operation(op_start, stdin="start config JSON",
                       summary="create the session; 'already exists' if it is live"),
    "stop": Operation(op_stop, summary="end the session's process tree and the session (idempotent)"),
    "provision": Operation(op_provision, stdin="start config JSON",
                           summary="build the box (staging, setup) without launching the agent"),
    "exec": Operation(op_exec, stdin="shell command",
                      summary="run a command in the box's work dir and env; exit with its code"),
    "proc-stream": Operation(op_proc_stream, stdin="shell command",
                             summary="run a command in the box, streaming its stdout and stderr"),
    "watch-startup": Operation(op_watch_startup,
                               summary="print a JSON screen snapshot per change until cancelled"),
    "attach": Operation(op_attach, summary="attach this terminal to the session"),
    "list-running": Operation(op_list_running, ("prefix",),
                              summary="print running session names starting with prefix"),
    "copy-to": Operation(op_copy_to, ("name", "src", "rel_dst"),
                         summary="copy a file or directory into the session's work dir"),
    "protocol": Operation(op_protocol, (), summary="print the RPP handshake JSON"),
    "doctor": Operation(op_doctor, (), human=True, summary="check platform, tmux and the socket [--json]"),
    **observe_operations("GC_TMUX_LOG"),
    **session_operations(runner, nudge_lock),
}

ABOUT = f"""\
Sessions in local tmux on a private socket. Linux and macOS.
Gas City runs it as GC_SESSION=exec:gc-session-tmux.

{help_section(TABLE)}"""


__all__ = ["OPERATIONS", "VALIDATORS", "main"]


def main() -> None:
    dispatch_main(EXE, OPERATIONS, VALIDATORS, about=ABOUT, version=VERSION,
                  settings=TABLE, log_env="GC_TMUX_LOG")
