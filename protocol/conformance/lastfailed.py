"""The rerun file behind ``--last-failed``: which checks FAILed last time, per provider.

One small JSON file per provider (its resolved path, and whether it ran as a
beads store) under ``$XDG_STATE_HOME/gc-provider-conformance/last-failed/``
(default ``~/.local/state``). Like pytest's ``--lf``, a run of a few checks
only updates those: a check that ran and passed is dropped, one that FAILed is
added, the others keep their record.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

import orjson


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gc-provider-conformance" / "last-failed"


def path_for(executable: str, beads: bool = False) -> Path:
    """The rerun file of ``executable`` (an absolute path), readable by name and unique by hash."""
    key = f"{'beads' if beads else 'session'}\0{executable}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(executable))[:40] or "provider"
    return state_dir() / f"{stem}-{digest}.json"


def load(executable: str, beads: bool = False) -> list[str]:
    """The check IDs that FAILed last time ([] when none are recorded or the file is unreadable)."""
    try:
        doc = orjson.loads(path_for(executable, beads).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    failed = doc.get("failed") if isinstance(doc, dict) else None
    return [code for code in failed if isinstance(code, str)] if isinstance(failed, list) else []


def update(executable: str, beads: bool, ran: Iterable[str], failed: Iterable[str]) -> Path:
    """Record this run: drop the IDs that ran, add those that FAILed. Returns the file."""
    ran_now, failed_now = set(ran), set(failed)
    kept = [code for code in load(executable, beads) if code not in ran_now]
    codes = sorted(set(kept) | failed_now)
    path = path_for(executable, beads)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"executable": executable, "beads": beads, "failed": codes}
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    temp.replace(path)
    return path
