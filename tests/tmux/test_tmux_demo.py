"""`make demo` (after setting up) runs examples/demo/demo.py: it works, start to stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import REPO


def test_the_demo_drives_a_session_from_start_to_stop(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(REPO / "examples" / "demo" / "demo.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.rstrip().endswith("demo OK: start, nudge, peek, activity and stop behaved as Gas City expects")
    assert "$ gc-session-tmux stop demo-agent" in res.stdout
