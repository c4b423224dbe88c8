"""The fix for a failed check, in one line: from its cause when the detail shows one,
else the usual fix for its ID (the longest matching ID prefix wins).

These are the rules `examples/minimal-sh/README.md` shows at length; the kit
repeats the one that applies next to each FAIL so a provider author does not
have to go looking.
"""

from __future__ import annotations

import re

SEMICOLON = ("tmux ends a command at any argument ending in ';': pass values on stdin (load-buffer, "
             "a command file), never as tmux arguments")

HINTS: tuple[tuple[str, str], ...] = (
    ("CHECK-01", "the protocol op prints {\"version\":0,\"capabilities\":[...]} or exits 2 if not implemented"),
    ("CHECK-02", "start reads the JSON config on stdin, creates the session and exits 0 once it runs"),
    ("CHECK-03", "is-running prints exactly 'true' or 'false' (exit 0) for the session's exact name"),
    ("CHECK-1", "stop is idempotent and synchronous: a missing session exits 0; is-running is false right after"),
    ("CHECK", "optional ops answer exit 2 when not implemented; otherwise exit 0 with gc's output shape"),
    ("RPP-PROTOCOL", "the protocol op prints one JSON object {\"version\":0,...} or exits 2"),
    ("RPP-LIFECYCLE-002", "a second start of a live session exits 1 and says 'already exists' on stderr"),
    ("RPP-LIFECYCLE", "start/stop/is-running: exact names, stop idempotent, is-running false for unknown names"),
    ("RPP-CONN", "exec runs stdin as 'sh -c' in the session's box, merged output, its exit code passed through"),
    ("RPP-CONN-002", ("proc-stream: run the command with the op's own stdout and stderr (no buffering), "
                      "exit with its code")),
    ("RPP-PROVISION", "provision creates the box (exec works) without launching the agent command"),
    ("RT-LIFECYCLE-START-DUPLICATE", "a duplicate start exits 1 with 'already exists' (create atomically)"),
    ("RT-LIFECYCLE-PROCESS-ALIVE", ("process-alive walks the pane's process tree; no names means true; "
                                   "read the last name even without a newline")),
    ("RT-LIFECYCLE-LIST-RUNNING", "list-running prints one name per line, filtered by the prefix argument"),
    ("RT-LIFECYCLE", "every op targets the exact session (tmux -t =name) and is safe for concurrent names"),
    ("RT-SESSION-SEND-KEYS-MISSING", "send-keys on a missing session exits 0 (best effort)"),
    ("RT-SESSION-INTERRUPT-MISSING", "interrupt on a missing session exits 0 (best effort)"),
    ("RT-SESSION-NUDGE-MISSING", "nudge on a missing session exits 0 (best effort)"),
    ("RT-SESSION-COPY-TO", ("copy-to copies src into the session's work dir and exits 0; a missing session is not "
                           "an error")),
    ("RT-SESSION", "meta lives with the session (tmux set-environment); unset keys print nothing, exit 0"),
    ("GC-STRICT-NUDGE", ("type the message literally: send-keys -l -- \"$msg\" (or load-buffer/paste-buffer "
                        "for long text), then a separate Enter")),
    ("GC-STRICT-PROCESS", ("match exact process names in the pane's process tree (comm, argv[0]), never pgrep -f; "
                          "keep the last name without a newline")),
    ("GC-STRICT-ACTIVITY", "get-last-activity = newest #{window_activity} (session_activity does not advance)"),
    ("GC-STRICT-META", "store the start config's env (GC_SESSION_ID, GC_INSTANCE_TOKEN) where get-meta reads it"),
    ("GC-STRICT-START-001", "create atomically (tmux new-session fails on a duplicate): never check-then-create"),
    ("GC-STRICT-START-002", "a duplicate start exits 1 with 'already exists' and leaves the live session alone"),
    ("GC-STRICT-START-003", "start in work_dir with the config's env passed as values, never through a shell"),
    ("GC-STRICT-START-004", "exit 75 only for a temporary failure; a start that can never work exits 1"),
    ("GC-STRICT-USAGE-004", "an unknown op exits 2 with nothing on stdout; no other case exits 2"),
    ("GC-STRICT-USAGE", "usage errors (missing name, bad number, name starting with '-') exit 1 with one line"),
    ("GC-STRICT-INJECT-003", ("tmux ends a command at any argument ending in ';': refuse such keys or pass them "
                             "so tmux cannot parse them")),
    ("GC-STRICT-INJECT-004", SEMICOLON),
    ("GC-STRICT-INJECT-005", SEMICOLON),
    ("GC-STRICT-INJECT-006", SEMICOLON),
    ("GC-STRICT-ISOLATION", ("target exact names (tmux -t '=name' and '=name:'), never a prefix; a dead pane is "
                            "still that session's")),
    ("GC-STRICT-ISOLATION-003", ("map names to backing objects injectively (a hash of the exact name), and have "
                                "every op check the object's recorded session name, not only start")),
    ("GC-STRICT-ISOLATION-004", ("resolve relative paths (kubeconfig, sockets, state dirs) in the caller's own "
                                "directory, and key anything shared by what they resolve to")),
    ("GC-STRICT-USAGE-005", ("a closed stdin is bad input: one line, exit 1 (process-alive prints false); an op "
                            "that reads no stdin works as usual")),
    ("GC-STRICT-INJECT-007", ("tmux expands formats in -c: start the client in work_dir (no -c) or otherwise "
                             "pass it so nothing is expanded")),
    ("GC-STRICT-CANCEL-004", ("a signal at any point of start (readiness, the config's nudge, setup) rolls the "
                             "session back and exits non-zero")),
    ("GC-STRICT-COPY", ("copy without following links inside the destination (resolve it, refuse symlinks); "
                       "a link loop is one line, exit 1")),
    ("GC-STRICT-START-005", ("a start killed mid-way must not block the name: recycle a half-made session on the "
                            "next start")),
    ("GC-STRICT-SECRET", "pass start env values on stdin or in a file, never in argv (ps shows argv to everyone)"),
    ("GC-STRICT-INJECT", "pass names, keys and values as argv or stdin, quoted; never splice them into sh or tmux"),
    ("GC-STRICT-STOP", ("stop: SIGTERM the pane's whole process tree, wait, SIGKILL what is left, then kill the "
                       "session; return only when it is gone")),
    ("GC-STRICT-CANCEL", "on SIGTERM during start, undo what was created and exit within 2 s"),
    ("GC-STRICT-COLD-START", "keep hot ops cheap: no heavy imports or extra processes per call"),
    ("GC-STRICT-STREAM", ("run proc-stream's command in its own process group and kill that group when the op "
                         "dies, even by SIGKILL (a parent-death signal, a guard process)")),
    ("GC-STRICT-WATCH", ("watch-startup prints {\"content\": <screen>} as one JSON line per change, flushed, "
                        "and exits 0 on SIGTERM or a closed stdout")),
    ("ENV-WORKSPACE", "exec runs the command in the start config's work_dir"),
    ("ENV-TOOLING", "declare env.tooling only where gc, bd and git are on the box's PATH"),
    ("ENV-IDENTITY", "exec carries the start env (GC_SESSION) and runs as a user whoami can name"),
    ("ENV-LEDGER", "make GC_BEADS_API from the start env reachable from the box (and declare env.ledger only then)"),
    ("ENV-TRANSCRIPTS", ("stop copies $GC_TRANSCRIPTS_SRC (in the box) into $GC_TRANSCRIPTS_DEST (both in stop's "
                        "own environment)")),
    ("GC-STRICT", "see the rule this check's title names in examples/minimal-sh/README.md"),
    ("BEADS-UNKNOWN", "an unknown store op exits 2; nothing implemented ever does"),
    ("BEADS", "match bd's JSON shapes: see the beads cases in Gas City's exec store conformance"),
)


def hint(code: str, detail: str = "") -> str:
    """The one-line fix for ``code`` failing with ``detail`` ('' when the kit knows none).

    A cause the detail shows (an op that exited 0 and printed nothing, a
    timeout, a missing interpreter, a required op answering exit 2, a failed
    start) decides the fix; the check's usual fix is only for the rest.
    """
    return cause_hint(detail) or code_hint(code)


def code_hint(code: str) -> str:
    """The usual fix for ``code``, whatever the cause."""
    best = ""
    text = ""
    for prefix, fix in HINTS:
        if code.startswith(prefix) and len(prefix) > len(best):
            best, text = prefix, fix
    return text


#: ``OpResult.describe`` output: ``<op> <args>: exit N[: stderr | , stdout '...']`` or ``timed out``.
_OP = r"(?:^|: )(?P<op>[a-z][a-z-]*)(?: [^:\n]*)?"
_SILENT_SUCCESS = re.compile(_OP + r": exit 0, stdout ''")
_TIMED_OUT = re.compile(_OP + r": timed out after (?P<secs>[\d.]+)s")
_NOT_FOUND = re.compile(_OP + r": exit 127: ")
_SIGNALLED = re.compile(_OP + r": exit -(?P<sig>\d+): ")
_START_FAILED = re.compile(r"^start: start [^:\n]*: exit (?P<code>-?\d+)")
_REQUIRED_MISSING = re.compile(r"^(?P<op>[a-z][a-z-]*): not implemented \(exit 2\)")


def cause_hint(detail: str) -> str:
    """A fix derived from what the provider actually did, or ''."""
    if not detail:
        return ""
    if match := _TIMED_OUT.search(detail):
        return (f"{match['op']} did not finish in {match['secs']} s: ops must return promptly "
                "(a child holding stdout open also keeps the op running)")
    if match := _NOT_FOUND.search(detail):
        return f"{match['op']} exited 127 (command not found): check the provider's interpreter line and PATH"
    if match := _SIGNALLED.search(detail):
        return f"{match['op']} was killed by signal {match['sig']}: see the provider's stderr in the detail"
    if match := _START_FAILED.search(detail):
        return (f"start exited {match['code']}: fix what the provider's message says; every check that needs "
                "a session fails until start succeeds in this environment")
    if match := _REQUIRED_MISSING.search(detail):
        return f"{match['op']} is required: implement it (exit 2 means 'not implemented')"
    if match := _SILENT_SUCCESS.search(detail):
        return (f"{match['op']} exited 0 and printed nothing: an op you do not implement must exit 2 "
                "(exit 0 reads as success)")
    return ""
