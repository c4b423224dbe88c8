"""Which tmux server the local provider uses: its own, never the user's default.

``GC_TMUX_SOCKET`` names it: a path (contains ``/``) is used as is; a name is
placed where ``tmux -L <name>`` would put it. Unset, the name is ``gc``. Every
session gets ``GC_TMUX_SOCKET`` set to the absolute path, so an agent running
this executable inside its session reaches the same server and meta.
"""

from __future__ import annotations

import os

from protocol.errors import UsageError
from protocol.names import KEY_CHARS

DEFAULT_NAME = "gc"


def socket_path(environ: os._Environ[str] | dict[str, str]) -> str:
    value = environ.get("GC_TMUX_SOCKET", "")
    if "/" in value:
        if not value.startswith("/"):
            raise UsageError(f"GC_TMUX_SOCKET must be an absolute path or a name: {value!r}")
        return value
    name = value or DEFAULT_NAME
    if not KEY_CHARS.issuperset(name) or name[0] in ".-":
        raise UsageError(f"invalid GC_TMUX_SOCKET name {name!r}")
    base = environ.get("TMUX_TMPDIR") or "/tmp"
    return f"{base.rstrip('/')}/tmux-{os.getuid()}/{name}"
