"""PID 1 of the agent container: a small POSIX sh script, and the markers it writes.

* TERM/INT: kill the tmux server and exit 0 at once, so a pod deletion is
  fast (upstream's ``sleep infinity`` PID 1 ignores TERM and every stop
  waits out the grace period).
* Credentials from the optional secret volume are copied into ``$HOME/.claude``.
* Each pre_start command arrives base64-encoded as a positional argument
  (never pasted into the script: a ``#`` or a trailing ``&`` cannot break it),
  is decoded with ``base64 -d`` and run with sh in the work dir. The first
  failure is written to `PRE_START_FAILED` (``<index> <exit code>``).
* `BOX_READY` is written after pre_start; `start` waits for it, then creates
  the tmux session ``main`` through the runner.
* Then it sleeps in a loop with ``wait``, reaping children.
"""

from __future__ import annotations

import base64

BOX_READY = "/tmp/.gc-box-ready"
PRE_START_FAILED = "/tmp/.gc-pre-start-failed"
SECRET_DIR = "/tmp/claude-secret"

SCRIPT = f"""\
trap 'tmux kill-server 2>/dev/null; exit 0' TERM INT
if [ -d {SECRET_DIR} ]; then
  mkdir -p "$HOME/.claude" 2>/dev/null && cp -rL {SECRET_DIR}/. "$HOME/.claude/" 2>/dev/null
fi
i=0
for b in "$@"; do
  c=$(printf '%s' "$b" | base64 -d) || {{ echo "$i 126" > {PRE_START_FAILED}; break; }}
  sh -c "$c" &
  wait $!
  rc=$?
  if [ "$rc" -ne 0 ]; then echo "$i $rc" > {PRE_START_FAILED}; break; fi
  i=$((i + 1))
done
: > {BOX_READY}
while :; do
  sleep 5 &
  wait $!
done
"""

#: ``$0`` of the entrypoint (shows in ps and error messages).
ARG0 = "gc-entrypoint"


def command(pre_start: tuple[str, ...]) -> list[str]:
    """The container's ``command``: sh, the script, then each pre_start as base64."""
    encoded = [base64.b64encode(c.encode()).decode() for c in pre_start]
    return ["/bin/sh", "-c", SCRIPT, ARG0, *encoded]


STAGE_SCRIPT = """\
while [ ! -f /workspace/.gc-ready ]; do sleep 0.1; done
rm -f /workspace/.gc-ready
"""
