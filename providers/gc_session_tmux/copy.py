"""`copy-to` for the local provider: into the work dir remembered at start.

Whatever the session left in its work dir (symlinks to another session's
files, hard links), the copy stays inside it (`providers.tmux.contained`).
The work dir itself is the session's ``@gc-work-dir`` option; only an
absolute path is used, so the copy never lands relative to our own cwd.
"""

from __future__ import annotations

import os

from protocol.errors import ProviderError
from providers.tmux import overlay, session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.gc_session_tmux.local_runner import LocalRunner


def copy_to(r: LocalRunner, src: str, rel_dst: str) -> None:
    """Best-effort: an unknown session or a missing source is not an error."""
    res = r.tmux(["show-options", "-qv", "-t", session.pane(r), "@gc-work-dir"])
    work_dir = res.out.decode("utf-8", "replace").rstrip("\n") if res.ok else ""
    if not work_dir:
        return
    if not os.path.isabs(work_dir):
        raise ProviderError(f"copy-to: the session's work dir is not an absolute path: {work_dir!r}")
    overlay.copy_into(work_dir, src, rel_dst)
