"""protocol.privdir: the one check of private state (the end-to-end refusals, with a real
second user, are tests/tmux/test_tmux_private_state.py and tests/k8s/test_k8s_private_state.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from protocol import privdir
from protocol.privdir import Untrusted

NOBODY = 65534


def test_ensure_dir_makes_every_level_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        made = privdir.ensure_dir(str(tmp_path / "a" / "b"), "c", "d")
    finally:
        os.umask(old)
    for level in (tmp_path / "a", tmp_path / "a" / "b", Path(made).parent, Path(made)):
        assert level.stat().st_mode & 0o777 == 0o700, level


def test_a_symlinked_level_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "top").mkdir(mode=0o700)
    (tmp_path / "top" / "c").symlink_to(tmp_path / "real")
    with pytest.raises(Untrusted, match="a symlink"):
        privdir.ensure_dir(str(tmp_path / "top"), "c", "d")
    assert list((tmp_path / "real").iterdir()) == []


def test_a_level_owned_by_another_uid_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory away")
    (tmp_path / "top").mkdir(mode=0o700)
    os.chown(tmp_path / "top", NOBODY, NOBODY)
    with pytest.raises(Untrusted, match=f"owned by uid {NOBODY}"):
        privdir.ensure_dir(str(tmp_path / "top"), "c")
    assert list((tmp_path / "top").iterdir()) == []


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o777, 0o1777, 0o722])
def test_a_level_others_can_write_is_refused_and_left_as_it_is(tmp_path: Path, mode: int) -> None:
    top = tmp_path / "top"
    top.mkdir()
    top.chmod(mode)
    with pytest.raises(Untrusted, match="writable by others"):
        privdir.check_dir(str(top))
    assert top.stat().st_mode & 0o7777 == mode


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o705, 0o711])
def test_a_level_we_named_that_others_can_only_read_is_narrowed(tmp_path: Path, mode: int) -> None:
    top = tmp_path / "top"
    top.mkdir()
    top.chmod(mode)
    privdir.check_dir(str(top), ours_by_name=True)
    assert top.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o705, 0o711])
def test_a_directory_someone_named_that_others_can_read_is_refused_never_chmoded(
        tmp_path: Path, mode: int) -> None:
    # As root, `GC_TMUX_SOCKET=/x` once narrowed `/` itself to 0700.
    given = tmp_path / "given"
    given.mkdir()
    given.chmod(mode)
    with pytest.raises(Untrusted, match="readable by others"):
        privdir.check_dir(str(given))
    with pytest.raises(Untrusted, match="readable by others"):
        privdir.ensure_dir(str(given), "ours")
    assert given.stat().st_mode & 0o7777 == mode
    assert list(given.iterdir()) == []


def test_the_levels_below_a_given_top_are_ours_by_name_and_narrowed(tmp_path: Path) -> None:
    (tmp_path / "top" / "ours").mkdir(parents=True)
    (tmp_path / "top").chmod(0o700)
    (tmp_path / "top" / "ours").chmod(0o755)  # an earlier release's os.makedirs
    privdir.ensure_dir(str(tmp_path / "top"), "ours")
    assert (tmp_path / "top" / "ours").stat().st_mode & 0o777 == 0o700


def test_a_directory_others_may_read_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "textfiles"
    shared.mkdir()
    shared.chmod(0o755)
    privdir.check_dir(str(shared), others_may_read=True)
    assert shared.stat().st_mode & 0o777 == 0o755
    shared.chmod(0o775)
    with pytest.raises(Untrusted, match="writable by others"):
        privdir.check_dir(str(shared), others_may_read=True)


def test_a_file_where_a_directory_belongs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "top").write_text("")
    with pytest.raises(Untrusted, match="a regular file, not a directory"):
        privdir.ensure_dir(str(tmp_path / "top"))


def test_open_file_never_follows_a_symlink_nor_creates_its_target(tmp_path: Path) -> None:
    target = tmp_path / "target"
    (tmp_path / "lock").symlink_to(target)
    with pytest.raises(Untrusted, match="a symlink"):
        privdir.open_file(str(tmp_path / "lock"), os.O_RDWR | os.O_CREAT)
    assert not target.exists()


def test_open_file_refuses_what_is_not_a_regular_file_of_ours(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(Untrusted, match="not a regular file"):
        privdir.open_file(str(tmp_path / "dir"), os.O_RDONLY)
    if os.geteuid() == 0:
        (tmp_path / "theirs").write_text("")
        os.chown(tmp_path / "theirs", NOBODY, NOBODY)
        with pytest.raises(Untrusted, match=f"owned by uid {NOBODY}"):
            privdir.open_file(str(tmp_path / "theirs"), os.O_RDWR)


def test_open_file_is_close_on_exec_and_leaves_other_failures_as_they_are(tmp_path: Path) -> None:
    fd = privdir.open_file(str(tmp_path / "f"), os.O_RDWR | os.O_CREAT)
    try:
        assert not os.get_inheritable(fd)
        assert os.fstat(fd).st_mode & 0o777 == 0o600
    finally:
        os.close(fd)
    with pytest.raises(FileNotFoundError):
        privdir.open_file(str(tmp_path / "missing"), os.O_RDONLY)
