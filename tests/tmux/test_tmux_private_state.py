"""Private state is private: a state, lock or socket directory another local user planted
(or one open to others) is refused with one line and exit 1, never used, never waited on,
and nothing is created where the planter chose.

The planter is a throwaway second user (`planter`); the victim runs as we do, without
`XDG_RUNTIME_DIR` (a service or cron job), so its locks go under ``$TMPDIR/gc-exec-<uid>``:
``$TMPDIR`` is a fresh sticky directory per test, standing in for /tmp.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Provider, Start
from planter import Planter, second_user, shared_tmp, tree

#: Plants argv[1] as a directory open to all, with the lock path argv[2] (relative to it)
#: a symlink to argv[3]: the victim would create or truncate argv[3] as the planter chose.
PLANT = """
import os, sys
top, lock, target = sys.argv[1:4]
os.makedirs(os.path.join(top, os.path.dirname(lock)), exist_ok=True)
for root, dirs, _ in os.walk(top):
    os.chmod(root, 0o777)
os.symlink(target, os.path.join(top, lock))
"""

#: Plants argv[1] with a real lock file at argv[2] and holds its flock until killed.
HOLD = """
import fcntl, os, sys, time
top, lock = sys.argv[1:3]
os.makedirs(os.path.join(top, os.path.dirname(lock)), exist_ok=True)
for root, dirs, _ in os.walk(top):
    os.chmod(root, 0o777)
fd = os.open(os.path.join(top, lock), os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def planter() -> Iterator[Planter]:
    yield from second_user()


@pytest.fixture
def shared(planter: Planter) -> Iterator[Path]:
    yield from shared_tmp()


def victim_env(shared: Path) -> dict[str, str]:
    """The caller's environment without XDG_RUNTIME_DIR or GC_EXEC_STATE_DIR: state under
    ``$TMPDIR/gc-exec-<uid>``."""
    return {"TMPDIR": str(shared), "XDG_RUNTIME_DIR": "", "GC_EXEC_STATE_DIR": ""}


def lock_path(provider: Provider, name: str, purpose: str = "nudge") -> str:
    scope = os.path.basename(provider.env["GC_TMUX_SOCKET"])
    return f"tmux/locks/{scope}/{name}.{purpose}.lock"


def refused(err: str) -> bool:
    return err.count("\n") == 1 and "refusing" in err


def test_a_state_dir_planted_by_another_user_is_refused_and_nothing_lands_where_they_chose(
        tmux_provider: Provider, start: Start, planter: Planter, shared: Path) -> None:
    name = start({"command": "cat"})
    top = shared / f"gc-exec-{os.geteuid()}"
    target = planter.home / "victim-wrote-here"
    planter.run(PLANT, str(top), lock_path(tmux_provider, name), str(target))
    before = tree(top)
    res = tmux_provider.run("nudge", name, stdin="hello", env=victim_env(shared))
    assert res.rc == 1 and refused(res.err), res
    assert f"owned by uid {planter.uid}" in res.err
    assert not target.exists() and not target.is_symlink()
    assert tree(top) == before  # nothing created in the planted directory
    res = tmux_provider.run("start", "planted-" + name, stdin="{}", env=victim_env(shared))
    assert res.rc == 1 and refused(res.err), res
    assert tree(top) == before
    assert tmux_provider.run("is-running", "planted-" + name).value == "false"


def test_a_state_dir_named_by_gc_exec_state_dir_and_owned_by_another_user_is_refused(
        tmux_provider: Provider, start: Start, planter: Planter, shared: Path) -> None:
    name = start({"command": "cat"})
    top = shared / "chosen"
    target = planter.home / "victim-wrote-here"
    planter.run(PLANT, str(top), lock_path(tmux_provider, name), str(target))
    before = tree(top)
    res = tmux_provider.run("nudge", name, stdin="hello", env={"GC_EXEC_STATE_DIR": str(top)})
    assert res.rc == 1 and refused(res.err), res
    assert not target.exists() and tree(top) == before


def test_a_lock_held_by_another_user_is_refused_not_waited_on(
        tmux_provider: Provider, start: Start, planter: Planter, shared: Path) -> None:
    name = start({"command": "cat"})
    top = shared / f"gc-exec-{os.geteuid()}"
    holder = planter.spawn(HOLD, str(top), lock_path(tmux_provider, name))
    try:
        res = tmux_provider.run("nudge", name, stdin="hello", env=victim_env(shared))
    finally:
        holder.kill()
        holder.wait()
    assert res.rc == 1 and refused(res.err), res
    assert "still locked" not in res.err


def test_a_symlinked_lock_file_in_our_own_state_dir_is_refused(
        tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    name = start({"command": "cat"})
    tmux_provider.ok("nudge", name, stdin="first")  # makes our lock directories
    lock = Path(tmux_provider.env["GC_EXEC_STATE_DIR"]) / lock_path(tmux_provider, name)
    target = tmp_path / "elsewhere"
    lock.unlink()
    lock.symlink_to(target)
    res = tmux_provider.run("nudge", name, stdin="second")
    assert res.rc == 1 and refused(res.err) and "symlink" in res.err, res
    assert not target.exists()


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_a_state_dir_of_ours_others_can_write_is_refused(
        tmux_provider: Provider, start: Start, mode: int) -> None:
    name = start({"command": "cat"})
    state = Path(tmux_provider.env["GC_EXEC_STATE_DIR"])
    state.mkdir(exist_ok=True)
    state.chmod(mode)
    res = tmux_provider.run("nudge", name, stdin="hi")
    assert res.rc == 1 and refused(res.err) and "writable by others" in res.err, res
    assert state.stat().st_mode & 0o777 == mode  # refused, not repaired


def test_a_state_dir_of_ours_an_earlier_release_left_readable_is_narrowed_to_0700(
        tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "cat"})
    state = Path(tmux_provider.env["GC_EXEC_STATE_DIR"])
    state.mkdir(exist_ok=True)
    (state / "tmux").mkdir(exist_ok=True)
    (state / "tmux").chmod(0o755)  # os.makedirs made parents so: nobody else could write into it
    tmux_provider.ok("nudge", name, stdin="hi")
    assert (state / "tmux").stat().st_mode & 0o777 == 0o700


def test_the_default_state_dir_an_earlier_release_left_readable_is_narrowed_to_0700(
        tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    name = start({"command": "cat"})
    base = tmp_path / "runtime"
    default = base / f"gc-exec-{os.geteuid()}"  # no GC_EXEC_STATE_DIR: the name is ours
    default.mkdir(parents=True)
    default.chmod(0o755)
    env = {"GC_EXEC_STATE_DIR": "", "XDG_RUNTIME_DIR": "", "TMPDIR": str(base)}
    tmux_provider.ok("nudge", name, stdin="hi", env=env)
    assert default.stat().st_mode & 0o777 == 0o700


def test_a_state_dir_an_operator_named_that_others_can_read_is_refused_not_chmoded(
        tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    name = start({"command": "cat"})
    given = tmp_path / "home-like"
    given.mkdir(mode=0o755)
    given.chmod(0o755)
    res = tmux_provider.run("nudge", name, stdin="hi", env={"GC_EXEC_STATE_DIR": str(given)})
    assert res.rc == 1 and refused(res.err) and "readable by others" in res.err, res
    assert given.stat().st_mode & 0o777 == 0o755 and list(given.iterdir()) == []


def test_a_socket_named_in_a_directory_others_can_read_is_refused_and_the_directory_kept(
        tmux_provider: Provider, tmp_path: Path) -> None:
    where = tmp_path / "sockets"
    where.mkdir()
    where.chmod(0o755)
    res = tmux_provider.run("start", "s1", stdin=json.dumps({"command": "cat"}),
                            env={"GC_TMUX_SOCKET": str(where / "gc.sock")})
    assert res.rc == 1 and "readable by others" in res.err, res
    assert where.stat().st_mode & 0o777 == 0o755 and list(where.iterdir()) == []


def test_a_state_dir_that_is_a_symlink_is_refused(tmux_provider: Provider, start: Start,
                                                  tmp_path: Path) -> None:
    name = start({"command": "cat"})
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    res = tmux_provider.run("nudge", name, stdin="hi", env={"GC_EXEC_STATE_DIR": str(link)})
    assert res.rc == 1 and refused(res.err) and "symlink" in res.err, res
    assert list(real.iterdir()) == []


def test_a_tmux_socket_dir_planted_by_another_user_is_refused(
        tmux_provider: Provider, planter: Planter, shared: Path) -> None:
    planted = shared / f"tmux-{os.geteuid()}"
    planter.run("import os, sys; os.mkdir(sys.argv[1]); os.chmod(sys.argv[1], 0o777)",
                str(planted))
    env = {"GC_TMUX_SOCKET": "", "TMUX_TMPDIR": str(shared)}
    for op, args, stdin in (("start", ["s1"], "{}"), ("is-running", ["s1"], ""),
                            ("list-running", [""], ""), ("nudge", ["s1"], "x")):
        res = tmux_provider.run(op, *args, stdin=stdin, env=env)
        assert res.rc == 1 and refused(res.err), (op, res)
    assert list(planted.iterdir()) == []


def test_a_socket_another_user_planted_in_a_sticky_system_dir_is_refused(
        tmux_provider: Provider, planter: Planter) -> None:
    """``GC_TMUX_SOCKET=/tmp/<name>``: /tmp is the system's; the socket must be ours."""
    path = f"/tmp/gcplanted-{os.urandom(5).hex()}"
    holder = planter.spawn("import socket, sys, time\n"
                           "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)\n"
                           "print('ready', flush=True); time.sleep(600)", path)
    try:
        for op, stdin in (("start", "{}"), ("is-running", ""), ("nudge", "x")):
            res = tmux_provider.run(op, "s1", stdin=stdin, env={"GC_TMUX_SOCKET": path})
            assert res.rc == 1 and refused(res.err), (op, res)
    finally:
        holder.kill()
        holder.wait()
        Path(path).unlink(missing_ok=True)
