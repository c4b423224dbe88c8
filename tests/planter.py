"""A throwaway second local user who plants state where ours would go, and a shared
sticky directory (like /tmp) for them to plant in.

Needs root (to add the user and act as them) and `useradd`; skips with the reason
otherwise. Each test gets its own user name and directory (suites may run in parallel),
both removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from local_users import local_user


class Planter(NamedTuple):
    name: str
    uid: int
    gid: int
    home: Path
    python: str  #: an interpreter this user can run (ours may sit where only we reach)

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run Python ``script`` as this user (nothing of ours is imported)."""
        proc = subprocess.run([self.python, "-I", "-c", script, *args], user=self.uid,
                              group=self.gid, extra_groups=[], capture_output=True, text=True,
                              timeout=60, check=False, cwd="/")
        assert proc.returncode == 0, proc.stderr
        return proc

    def spawn(self, script: str, *args: str) -> subprocess.Popen[str]:
        """Start ``script`` as this user in the background; it prints ``ready`` once set."""
        proc = subprocess.Popen([self.python, "-I", "-c", script, *args], user=self.uid,
                                group=self.gid, extra_groups=[], stdout=subprocess.PIPE,
                                text=True, cwd="/")
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return proc


def second_user() -> Iterator[Planter]:
    """A fresh local user for one test (a generator: ``yield from`` it in a fixture)."""
    with local_user("gcp") as user:
        for python in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
            try:
                tried = subprocess.run([python, "-I", "-c", "pass"], user=user.uid,
                                       group=user.gid, extra_groups=[],
                                       capture_output=True, timeout=60, check=False, cwd="/")
            except OSError:
                continue
            if tried.returncode == 0:
                break
        else:
            pytest.skip("no Python interpreter the second user can run")
        yield Planter(user.name, user.uid, user.gid, user.home, python)


def shared_tmp() -> Iterator[Path]:
    """A directory like /tmp (1777) for one test: where another user can plant."""
    where = Path("/tmp") / f"gcshared-{uuid.uuid4().hex[:10]}"
    where.mkdir()
    where.chmod(0o1777)
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def tree(where: Path) -> list[tuple[str, int]]:
    """Every path under ``where`` (links not followed) with its owner: what a test
    compares before and after to show that nothing was created there."""
    found = []
    for root, dirs, files in os.walk(where):
        for item in [*dirs, *files]:
            path = os.path.join(root, item)
            found.append((os.path.relpath(path, where), os.lstat(path).st_uid))
    return sorted(found)
