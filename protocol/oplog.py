"""One JSON line per op: what ran, for which session, how it ended and how long it took.

Written by `protocol.dispatch.run` for every op (but ``stats`` and ``metrics``, which read
what the others leave) to the file the executable names: ``$GC_TMUX_LOG`` for gc-session-tmux, the
audit log (``$GC_K8S_AUDIT_LOG``) for the Kubernetes ones, where the line carries
``"kind": "op"`` beside the per-call lines of the same ``id``. Opt-in: unset, nothing is
written.

Fields: ``ts``, ``kind``, ``exe``, ``op``, ``session`` (the name argument; ``prefix`` for
list-running), ``exit``, ``duration_ms``, ``id`` (this op's correlation id, shared with the
audit lines of its calls), ``gc_session_id`` (``$GC_SESSION_ID`` when gc's environment
has it), ``trace`` (``$TRACEPARENT``, the W3C trace context OpenTelemetry passes through
the environment) and ``request`` (``$GC_REQUEST_ID``) when set, ``error`` (the outcome's
class name, never its text), and what a layer noted during the op (`note`: ``transport``,
``retries``). No field carries free text: no argument but the validated name, no stdin, no
environment value but the ids above, so no secret reaches the log.

The JSON is written by hand (``json`` imports ``re``): hot ops load this when the log is on.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", 0x7F: "\\u007f"})

#: What a layer noted during this op (`note`), written with the op's line.
NOTES: dict[str, str | int] = {}

#: Environment variables whose values go into the line as ids: (field, variable).
IDS = (("gc_session_id", "GC_SESSION_ID"), ("trace", "TRACEPARENT"), ("request", "GC_REQUEST_ID"))

_id = ""


def op_id() -> str:
    """This process's op id (12 hex digits), made once."""
    global _id
    if not _id:
        _id = os.urandom(6).hex()
    return _id


def note(field: str, value: str | int) -> None:
    """Add ``field`` (``transport``, ``retries``) to this op's line; a count adds up."""
    if isinstance(value, int) and isinstance(NOTES.get(field), int):
        value += NOTES[field]  # type: ignore[operator]
    NOTES[field] = value


def quote(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def line(exe: str, op: str, session: str, code: int, seconds: float, environ: Mapping[str, str],
         correlation: str = "", error: str = "", notes: Mapping[str, str | int] | None = None,
         ) -> bytes:
    fields: list[tuple[str, str | int | float]] = [
        ("ts", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        ("kind", "op"), ("exe", exe), ("op", op), ("session", session), ("exit", code),
        ("duration_ms", round(seconds * 1000, 2)), ("id", correlation or op_id()),
    ]
    for field, var in IDS:
        value = environ.get(var)
        if value:
            fields.append((field, value[:128]))
    if error:
        fields.append(("error", error))
    fields.extend(sorted((NOTES if notes is None else notes).items()))
    parts = [f"{quote(k)}:{quote(v) if isinstance(v, str) else repr(v)}" for k, v in fields]
    return ("{" + ",".join(parts) + "}\n").encode("utf-8", "replace")


def append(path: str, data: bytes) -> None:
    """One ``O_APPEND`` write (lines never interleave), never through a symlink; never raises."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                     0o600)
    except (OSError, ValueError):
        return
    try:
        os.write(fd, data)
    except OSError:
        pass
    finally:
        os.close(fd)
