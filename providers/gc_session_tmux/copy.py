"""`copy-to` for the local provider: into the work dir remembered at start."""

from __future__ import annotations

from providers.tmux import overlay, session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.gc_session_tmux.local_runner import LocalRunner


def copy_to(r: LocalRunner, src: str, rel_dst: str) -> None:
    """Best-effort: an unknown session or a missing source is not an error."""
    res = r.tmux(["show-options", "-qv", "-t", session.pane(r), "@gc-work-dir"])
    work_dir = res.out.decode("utf-8", "replace").rstrip("\n") if res.ok else ""
    if work_dir:
        overlay.copy_into(work_dir, src, rel_dst)
