"""gc-session-tmux's settings table (`protocol.settings`): what it reads from its environment.

Its ``--help``, the checks before each op and the docs' settings tables come from here."""

from __future__ import annotations

from protocol import settings as s
from protocol.settings import Setting

SOCKET = Setting("GC_TMUX_SOCKET", "tmux server: a name (as tmux -L) or an absolute socket path",
                 default="gc")
TMUX_TMPDIR = Setting("TMUX_TMPDIR", "directory of a named socket, as for tmux", default="/tmp")
TMUX = Setting("GC_TMUX", "the tmux binary to run", default="tmux")
STOP_GRACE_MS = Setting("GC_STOP_GRACE_MS", "stop's wait between SIGTERM and SIGKILL", "int",
                        default="1500", what="of milliseconds")
TRANSCRIPTS_SRC = Setting("GC_TRANSCRIPTS_SRC",
                          "stop: a directory of the box copied into GC_TRANSCRIPTS_DEST", shown="unset")
TRANSCRIPTS_DEST = Setting("GC_TRANSCRIPTS_DEST",
                           "stop: where GC_TRANSCRIPTS_SRC arrives, an absolute path", shown="unset")
PORTABLE = Setting("GC_PORTABLE", "1: use ps, temp files and waitpid instead of /proc, memfd, pidfd",
                   "choice", choices=("1", "0"), shown="auto")
LOG = Setting("GC_TMUX_LOG", "file that gets one JSON line per op (stats reads it)")

TABLE = s.table(SOCKET, TMUX_TMPDIR, TMUX, s.NUDGE_DEBOUNCE_MS, STOP_GRACE_MS, s.START_TIMEOUT_S,
                s.EXEC_STATE_DIR, TRANSCRIPTS_SRC, TRANSCRIPTS_DEST, PORTABLE, LOG, s.METRICS_DIR,
                s.PROVIDER_DEBUG)
