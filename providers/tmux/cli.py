"""`gc-session-tmux`: Gas City sessions in local tmux, one operation per process.

Hot operations (is-running, process-alive, get-meta, get-last-activity, peek,
list-running, nudge) import only the standard library, `protocol` and the
session logic; everything else is imported inside its handler.
"""

from __future__ import annotations

from protocol import names
from protocol.dispatch import Call, Operation
from protocol.dispatch import main as dispatch_main
from providers.tmux import session
from providers.tmux.runner import LocalRunner
from providers.tmux.sockets import socket_path

EXE = "gc-session-tmux"
VERSION = "0.1.0"
#: Declared only once verified by the conformance kit (see protocol/PROTOCOL.md).
CAPABILITIES = ["report-activity", "report-attachment"]


def runner(call: Call) -> LocalRunner:
    return LocalRunner(socket_path(call.environ), call["name"])


def flag(value: bool) -> str:
    return "true" if value else "false"


def op_start(call: Call) -> None:
    from providers.tmux.start import start

    start(call)


def op_stop(call: Call) -> None:
    from providers.tmux.stop import stop

    stop(runner(call))


def op_is_running(call: Call) -> str:
    return flag(session.is_running(runner(call)))


def op_is_attached(call: Call) -> str:
    return flag(session.is_attached(runner(call)))


def op_process_alive(call: Call) -> str:
    wanted = call.stdin_bytes().decode("utf-8", "replace").split("\n")
    wanted = [n.strip() for n in wanted if n.strip()]
    if not wanted:
        return "true"
    return flag(session.process_alive(runner(call), wanted))


def op_nudge(call: Call) -> None:
    from protocol.locks import session_lock

    message = call.stdin_bytes()
    if not message:
        return
    r = runner(call)
    import os

    with session_lock("tmux", os.path.basename(r.socket_path), call["name"], "nudge", 25.0):
        session.nudge(r, message, debounce=session.debounce_seconds(call.environ))


def op_set_meta(call: Call) -> None:
    value = call.stdin_bytes().decode("utf-8", "replace")
    session.set_meta(runner(call), call["key"], value)


def op_get_meta(call: Call) -> str:
    return session.get_meta(runner(call), call["key"])


def op_remove_meta(call: Call) -> None:
    session.remove_meta(runner(call), call["key"])


def op_peek(call: Call) -> str:
    return session.peek(runner(call), int(call["lines"]))


def op_list_running(call: Call) -> str:
    prefix = call["prefix"]
    r = LocalRunner(socket_path(call.environ), "")
    res = r.tmux(["list-panes", "-a", "-F", "#{pane_dead} #{session_name}"])
    if not res.ok:
        return ""
    live = sorted({line[2:] for line in res.out.decode("utf-8", "replace").splitlines()
                   if line.startswith("0 ") and line[2:].startswith(prefix)})
    return "\n".join(live)


def op_last_activity(call: Call) -> str:
    return session.last_activity(runner(call))


def op_clear_scrollback(call: Call) -> None:
    session.clear_scrollback(runner(call))


def op_send_keys(call: Call) -> None:
    session.send_keys(runner(call), call.rest)


def op_interrupt(call: Call) -> None:
    session.interrupt(runner(call))


def op_attach(call: Call) -> None:
    from protocol import proc
    from protocol.errors import ProviderError

    r = runner(call)
    if not session.is_running(r) and not session.pane_pids(r):
        raise ProviderError(f"session {call['name']!r} not found")
    proc.replace([*r.base, "attach-session", "-t", session.session(r)])


def op_copy_to(call: Call) -> None:
    from providers.tmux.copy import copy_to

    copy_to(runner(call), call["src"], call["rel_dst"])


def op_protocol(call: Call) -> str:
    from protocol.handshake import handshake

    return handshake(CAPABILITIES)


OPERATIONS: dict[str, Operation] = {
    "start": Operation(op_start, stdin="start config JSON",
                       summary="create the session; 'already exists' if it is live"),
    "stop": Operation(op_stop, summary="end the session's process tree and the session (idempotent)"),
    "interrupt": Operation(op_interrupt, summary="send C-c (best-effort)"),
    "is-running": Operation(op_is_running, summary="print true or false"),
    "is-attached": Operation(op_is_attached, summary="print true if a client is attached"),
    "attach": Operation(op_attach, summary="attach this terminal to the session"),
    "process-alive": Operation(op_process_alive, stdin="process names, one per line",
                               summary="print true if a named process runs in the pane tree"),
    "nudge": Operation(op_nudge, stdin="message", summary="type the message literally and submit it"),
    "set-meta": Operation(op_set_meta, ("name", "key"), stdin="value", summary="store a value"),
    "get-meta": Operation(op_get_meta, ("name", "key"), summary="print a value (empty if unset)"),
    "remove-meta": Operation(op_remove_meta, ("name", "key"), summary="remove a value"),
    "peek": Operation(op_peek, ("name", "lines"), summary="print the last lines (<=0: all)"),
    "list-running": Operation(op_list_running, ("prefix",),
                              summary="print running session names starting with prefix"),
    "get-last-activity": Operation(op_last_activity, summary="print RFC 3339 time of last output"),
    "clear-scrollback": Operation(op_clear_scrollback, summary="clear the pane history"),
    "send-keys": Operation(op_send_keys, ("name", "*key"), summary="send tmux key names, no Enter"),
    "copy-to": Operation(op_copy_to, ("name", "src", "rel_dst"),
                         summary="copy a file or directory into the session's work dir"),
    "protocol": Operation(op_protocol, (), summary="print the RPP handshake JSON"),
}

VALIDATORS = {
    "name": names.session_name,
    "key": names.meta_key,
    "lines": names.line_count,
    "prefix": names.prefix,
    "*key": names.key_name,
    "src": names.any_text,
    "rel_dst": names.any_text,
}

ABOUT = ("Sessions in local tmux on a private socket ($GC_TMUX_SOCKET, default 'gc').\n"
         "Gas City runs it as GC_SESSION=exec:gc-session-tmux.")


def main() -> None:
    dispatch_main(EXE, OPERATIONS, VALIDATORS, about=ABOUT, version=VERSION)
