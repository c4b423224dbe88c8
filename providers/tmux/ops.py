"""The protocol operations that are pure tmux, as one table both providers share.

`gc-session-tmux` and `gc-session-k8s` differ only in how they reach a
session's tmux (a local socket, or `kubectl exec` into the pod) and where a
nudge lock lives; given those two functions, every operation below is the
same code. Each CLI adds its own start, stop, list-running, attach and the rest.
"""

from __future__ import annotations

from protocol import names
from protocol.dispatch import Call, Operation, StdinClosed
from providers.tmux import session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from protocol.locks import FileLock
    from providers.tmux.runner import Runner

    R = TypeVar("R", bound=Runner)

#: Validators for the arguments every session executable takes.
VALIDATORS = {
    "name": names.session_name,
    "key": names.meta_key,
    "lines": names.line_count,
    "prefix": names.prefix,
    "*key": names.key_name,
    "src": names.any_text,
    "rel_dst": names.any_text,
}


def flag(value: bool) -> str:
    return "true" if value else "false"


def process_names(call: Call) -> list[str]:
    """process-alive's stdin: one name per line, the last without a newline."""
    lines = call.stdin_bytes().decode("utf-8", "replace").split("\n")
    return [n.strip() for n in lines if n.strip()]


def session_operations(runner_for: Callable[[Call], R],
                       nudge_lock: Callable[[Call, R], FileLock]) -> dict[str, Operation]:
    """The tmux operations, bound to a way of reaching the session."""

    def is_running(call: Call) -> str:
        return flag(session.is_running(runner_for(call)))

    def is_attached(call: Call) -> str:
        return flag(session.is_attached(runner_for(call)))

    def process_alive(call: Call) -> str:
        try:
            wanted = process_names(call)
        except StdinClosed:
            return "false"  # no names given at all: none of them runs
        return flag(session.process_alive(runner_for(call), wanted))

    def nudge(call: Call) -> None:
        message = call.stdin_bytes()
        if not message:
            return
        r = runner_for(call)
        with nudge_lock(call, r):
            session.nudge(r, message, debounce=session.debounce_seconds(call.environ))

    def set_meta(call: Call) -> None:
        session.set_meta(runner_for(call), call["key"], call.stdin_bytes().decode("utf-8", "replace"))

    def get_meta(call: Call) -> bytes:
        # Bytes: the value as stored, without a newline of its own (PROTOCOL.md).
        return session.get_meta(runner_for(call), call["key"]).encode()

    def remove_meta(call: Call) -> None:
        session.remove_meta(runner_for(call), call["key"])

    def peek(call: Call) -> str:
        return session.peek(runner_for(call), int(call["lines"]))

    def last_activity(call: Call) -> str:
        return session.last_activity(runner_for(call))

    def clear_scrollback(call: Call) -> None:
        session.clear_scrollback(runner_for(call))

    def send_keys(call: Call) -> None:
        session.send_keys(runner_for(call), call.rest)

    def interrupt(call: Call) -> None:
        session.interrupt(runner_for(call))

    return {
        "interrupt": Operation(interrupt, summary="send C-c (best-effort)"),
        "is-running": Operation(is_running, summary="print true or false"),
        "is-attached": Operation(is_attached, summary="print true if a client is attached"),
        "process-alive": Operation(process_alive, stdin="process names, one per line",
                                   summary="print true if a named process runs in the pane tree"),
        "nudge": Operation(nudge, stdin="message", summary="type the message literally and submit it"),
        "set-meta": Operation(set_meta, ("name", "key"), stdin="value", summary="store a value"),
        "get-meta": Operation(get_meta, ("name", "key"), summary="print a value (empty if unset)"),
        "remove-meta": Operation(remove_meta, ("name", "key"), summary="remove a value"),
        "peek": Operation(peek, ("name", "lines"), summary="print the last lines (<=0: all)"),
        "get-last-activity": Operation(last_activity, summary="print RFC 3339 time of last output"),
        "clear-scrollback": Operation(clear_scrollback, summary="clear the pane history"),
        "send-keys": Operation(send_keys, ("name", "*key"), summary="send tmux key names, no Enter"),
    }
