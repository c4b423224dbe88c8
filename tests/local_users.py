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


class LocalUser(NamedTuple):
    name: str
    uid: int
    gid: int
    home: Path


@contextmanager
def local_user(prefix: str) -> Iterator[LocalUser]:
    """A fresh unprivileged local user (its own group and home; removed after, home too);
    skips when not root or useradd/userdel/runuser are missing. The one place tests add
    users: each gets a unique name, so parallel suites never share one."""
    if os.geteuid() != 0:
        pytest.skip("needs root: makes a second local user with useradd and runs as it")
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} to act as a second local user")
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    made = subprocess.run(["useradd", "-m", "-U", "-s", "/bin/sh", name], capture_output=True,
                          text=True, timeout=60, check=False)
    if made.returncode != 0:
        pytest.skip(f"useradd failed: {made.stderr.strip()}")
    try:
        entry = pwd.getpwnam(name)
        yield LocalUser(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
    finally:
        subprocess.run(["userdel", "-r", name], check=False, capture_output=True, timeout=60)


@contextmanager
def throwaway_user() -> Iterator[Stranger]:
    """An unprivileged local user (`local_user`) with stranger.py where it can read it."""
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f"needs {PYTHON} for the second user's client")
    with local_user("gcst") as user:
        home = Path(tempfile.mkdtemp(prefix="gc-stranger-"))
        try:
            home.chmod(0o755)
            shutil.copy(STRANGER, home / "stranger.py")
            (home / "stranger.py").chmod(0o644)
            yield Stranger(user.name, user.uid, home)
        finally:
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
