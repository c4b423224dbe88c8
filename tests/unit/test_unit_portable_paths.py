"""The portable process paths (macOS, or GC_PORTABLE=1): same answers without memfd, pidfd or /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from protocol import proc, processes
from providers.tmux import proctree

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable


@pytest.fixture
def no_linux_fast_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """What macOS offers: no memfd_create, no pidfd_open (and GC_PORTABLE=1 for /proc)."""
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    monkeypatch.setenv("GC_PORTABLE", "1")


@pytest.fixture
def marked() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A `sleep` under `sh`, carrying a unique marker in its environment."""
    marker = f"GC_TEST_MARK={uuid.uuid4().hex}"
    key, value = marker.split("=")
    child = subprocess.Popen(["sh", "-c", "sleep 60; :"], env={**os.environ, key: value})
    deadline = time.monotonic() + 30
    while len(processes.environments(marker)) < 2:  # until sh has forked its sleep
        assert time.monotonic() < deadline, "sh never started sleep"
        time.sleep(0.01)
    yield child, marker
    child.kill()
    child.wait()


def test_the_portable_path_is_chosen_without_memfd_or_when_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GC_PORTABLE", raising=False)
    assert proc.portable() is (not hasattr(os, "memfd_create"))
    monkeypatch.setenv("GC_PORTABLE", "1")
    assert proc.portable() and not processes.fast()


@pytest.mark.usefixtures("no_linux_fast_paths")
def test_run_moves_large_stdin_and_both_outputs_through_temp_files() -> None:
    payload = os.urandom(300_000)
    res = proc.run(["sh", "-c", "cat; echo err >&2; exit 3"], stdin=payload)
    assert (res.rc, res.out, res.err) == (3, payload, b"err\n")


@pytest.mark.usefixtures("no_linux_fast_paths")
def test_the_temp_files_leave_nothing_behind(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert proc.run(["cat"], stdin=b"x").out == b"x"
    assert os.listdir(str(tmp_path)) == []


def our_children() -> set[int]:
    """Children of this process, zombies included (other fixtures may hold their own)."""
    kids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            kids.update(int(p) for p in f.read().split())
    return kids


@pytest.mark.usefixtures("no_linux_fast_paths")
def test_a_deadline_without_pidfd_kills_the_child_and_reaps_it() -> None:
    before = our_children()
    with pytest.raises(proc.Timeout):
        proc.run(["sh", "-c", "trap '' TERM; sleep 30"], timeout=0.2, new_group=True)
    assert our_children() - before == set()  # killed and reaped: not even a zombie is left


@pytest.mark.usefixtures("no_linux_fast_paths")
def test_a_child_that_finishes_in_time_returns_its_code() -> None:
    assert proc.run(["sh", "-c", "exit 7"], timeout=30).rc == 7


@pytest.mark.usefixtures("no_linux_fast_paths")
def test_the_process_tree_comes_from_ps(marked: tuple[subprocess.Popen[bytes], str]) -> None:
    child, _ = marked
    procs = proctree.LocalProcesses()
    assert procs.listed is not None
    assert proctree.tree_has(procs, child.pid, ["sleep"])
    assert not proctree.tree_has(procs, child.pid, ["sleeper"])
    assert proctree.descendants(procs, [child.pid])


@pytest.mark.usefixtures("no_linux_fast_paths")
def test_environment_markers_and_exits_are_read_through_ps(marked: tuple[subprocess.Popen[bytes], str]) -> None:
    child, marker = marked
    found = {pid for pid, env in processes.environments(marker) if marker in env}
    assert child.pid in found
    assert processes.command_line(child.pid).startswith("sh -c sleep 60")
    assert not processes.gone(child.pid)
    child.kill()
    child.wait()
    assert processes.gone(child.pid)


def test_both_paths_agree_on_a_live_tree(marked: tuple[subprocess.Popen[bytes], str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if not processes.fast():
        pytest.skip("no /proc here")
    child, marker = marked
    monkeypatch.delenv("GC_PORTABLE", raising=False)
    fast = ({pid for pid, _ in processes.environments(marker)},
            proctree.descendants(proctree.LocalProcesses(), [child.pid]))
    monkeypatch.setenv("GC_PORTABLE", "1")
    portable = ({pid for pid, _ in processes.environments(marker)},
                proctree.descendants(proctree.LocalProcesses(), [child.pid]))
    assert fast == portable
    assert sys.platform == "linux"


def test_a_platform_without_posix_spawn_fails_in_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from protocol.errors import ProviderError

    monkeypatch.delattr(os, "posix_spawnp")
    with pytest.raises(ProviderError, match="no posix_spawn: the providers run on Linux and macOS"):
        proc.run(["true"])
