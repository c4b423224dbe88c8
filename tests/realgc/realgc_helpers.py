"""Gas City's own `gc` against our executables: found via GC_BIN, the tools cache, or PATH
(the ``gc_env`` fixture in conftest.py isolates each run).

`make real-gc-tests` builds a pinned gc (gascity v1.4.0, the newest release with
`gc runtime check` and `gc runtime conformance`) with `.ci/install-gc-tools`. The Go module
proxy these machines reach refuses every gascity version today (403 "This module version
is not available"), so without a gc these tests skip and say so.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

TOOLS_BIN = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gc-providers" / "gc-tools" / "bin"


def find_gc() -> str:
    candidates = [os.environ.get("GC_BIN", ""), str(TOOLS_BIN / "gc"), shutil.which("gc") or ""]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), "")


GC = find_gc()
PROVIDER = shutil.which("gc-session-tmux", path=os.path.dirname(sys.executable)) or ""
NO_GC = ("no real gc: gascity is not served by the Go module proxy here (403 for every version); "
         "set GC_BIN to a gc >= 1.4.0, or run make real-gc-tests where it is served")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
