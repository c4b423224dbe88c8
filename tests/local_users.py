"""A throwaway second local user, and running `stranger.py` as it (tests that show what
another user on the machine can and cannot do to our listeners)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest

PYTHON = "/usr/bin/python3"  # the system one: the stranger cannot read our virtualenv
STRANGER = Path(__file__).with_name("stranger.py")


class Stranger(NamedTuple):
    name: str
    uid: int
    home: Path  # world-readable: stranger.py and whatever else the user must read


@contextmanager
def throwaway_user() -> Iterator[Stranger]:
    """An unprivileged local user made with useradd (removed after); skips when not root or
    the tools are missing."""
    if os.geteuid() != 0:
        pytest.skip("needs root: makes a second local user with useradd and runs as it")
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} to run a client as a second local user")
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f"needs {PYTHON} for the second user's client")
    name = f"gcst{uuid.uuid4().hex[:12]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True, timeout=60)
    home = Path(tempfile.mkdtemp(prefix="gc-stranger-"))
    try:
        home.chmod(0o755)
        shutil.copy(STRANGER, home / "stranger.py")
        (home / "stranger.py").chmod(0o644)
        yield Stranger(name, pwd.getpwnam(name).pw_uid, home)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


def as_stranger(who: Stranger, attempts: list[dict[str, Any]],
                kubeconfig: str = "") -> dict[str, Any]:
    """Run stranger.py as `who` with this plan; its JSON report."""
    # Its own process group: on a timeout the whole of it (runuser and the client) is ended.
    proc = subprocess.Popen(["runuser", "-u", who.name, "--", PYTHON, str(who.home / "stranger.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=who.home, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(
            orjson.dumps({"attempts": attempts, "kubeconfig": kubeconfig}), timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, stderr.decode()
    out: dict[str, Any] = orjson.loads(stdout)
    assert out["uid"] == who.uid != os.getuid()
    return out
