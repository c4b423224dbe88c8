"""`copy-to` for the local provider: into the work dir remembered at start."""

from __future__ import annotations

import os

from providers.tmux import overlay, session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.tmux.runner import LocalRunner


def copy_to(r: LocalRunner, src: str, rel_dst: str) -> None:
    """Best-effort: an unknown session or a missing source is not an error."""
    res = r.tmux(["show-options", "-qv", "-t", session.pane(r), "@gc-work-dir"])
    work_dir = res.out.decode("utf-8", "replace").rstrip("\n") if res.ok else ""
    if not work_dir:
        return
    dst = overlay.inside(work_dir, rel_dst)  # validate even if src is missing
    if not src or not os.path.exists(src):
        return
    if not rel_dst and not os.path.isdir(src):
        dst = os.path.join(dst, os.path.basename(src))
    if os.path.realpath(src) != dst:
        overlay.copy_any(src, dst)
