"""copy-to, overlays and copy_files stay inside the work dir, whatever the agent planted there.

The agent owns its work dir and may leave symlinks (or hard links) in it that
point at another session's files; staging and copy-to replace such a link and
never write through it. A source's own symlinks are copied only as the in-tree
files they name: loops do not recurse and out-of-tree files are not copied.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers import Provider, Start


class Planted(NamedTuple):
    work: Path
    sibling: Path  # another session's work dir, which nothing may touch


def plant(tmp_path: Path) -> Planted:
    """A work dir whose ``notes`` links to a sibling's dir and ``todo.txt`` to its file."""
    work, sibling = tmp_path / "work", tmp_path / "sibling"
    work.mkdir()
    (sibling / ".claude").mkdir(parents=True)
    (sibling / "todo.txt").write_text("sibling's\n")
    (sibling / ".claude" / "settings.json").write_text('{"sibling": true}\n')
    (work / "notes").symlink_to(sibling)
    (work / "todo.txt").symlink_to(sibling / "todo.txt")
    (work / ".claude").symlink_to(sibling / ".claude")
    os.link(sibling / "todo.txt", work / "hard.txt")
    return Planted(work, sibling)


def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "notes").mkdir(parents=True)
    (src / ".claude").mkdir()
    (src / "notes" / "new.txt").write_text("new\n")
    (src / "todo.txt").write_text("staged\n")
    (src / "hard.txt").write_text("staged\n")
    (src / ".claude" / "settings.json").write_text('{"staged": true}\n')
    return src


def sibling_untouched(planted: Planted) -> None:
    assert sorted(p.name for p in planted.sibling.iterdir()) == [".claude", "todo.txt"]
    assert (planted.sibling / "todo.txt").read_text() == "sibling's\n"
    assert json.loads((planted.sibling / ".claude" / "settings.json").read_text()) == {
        "sibling": True}


def work_has_real_copies(work: Path) -> None:
    for rel in ("notes", "todo.txt", ".claude", "hard.txt"):
        assert not (work / rel).is_symlink(), rel
    assert (work / "notes" / "new.txt").read_text() == "new\n"
    assert (work / "todo.txt").read_text() == "staged\n"
    assert (work / "hard.txt").read_text() == "staged\n"
    assert json.loads((work / ".claude" / "settings.json").read_text()) == {"staged": True}


def test_copy_to_replaces_planted_links_instead_of_writing_through_them(
        tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    planted = plant(tmp_path)
    name = start({"work_dir": str(planted.work)})
    tmux_provider.ok("copy-to", name, str(source(tmp_path)), "")
    sibling_untouched(planted)
    work_has_real_copies(planted.work)


def test_staging_replaces_planted_links_in_every_layer(tmux_provider: Provider, start: Start,
                                                       tmp_path: Path) -> None:
    planted = plant(tmp_path)
    src = source(tmp_path)
    single = tmp_path / "single.txt"
    single.write_text("single\n")
    (planted.work / "deep").symlink_to(planted.sibling)
    start({"work_dir": str(planted.work), "overlay_dir": str(src),
           "pack_overlay_dirs": [str(src)],
           "copy_files": [{"src": str(src), "rel_dst": "notes/again"},
                          {"src": str(single), "rel_dst": "deep/er/single.txt"}]})
    sibling_untouched(planted)
    work_has_real_copies(planted.work)
    assert (planted.work / "notes" / "again" / "todo.txt").read_text() == "staged\n"
    assert (planted.work / "deep" / "er" / "single.txt").read_text() == "single\n"


def test_a_symlink_loop_in_the_source_is_skipped_with_one_warning(tmux_provider: Provider,
                                                                  start: Start, tmp_path: Path
                                                                  ) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "real.txt").write_text("real\n")
    (src / "d" / "self").symlink_to(".")
    (src / "up").symlink_to("..")
    (src / "a").symlink_to("b")
    (src / "b").symlink_to("a")
    name = start({"work_dir": str(tmp_path / "work")})
    res = tmux_provider.run("copy-to", name, str(src), "into")
    assert res.rc == 0, res.err
    assert len(res.err.splitlines()) == 1 and res.err.startswith("warning: not copied")
    assert sorted(str(p.relative_to(tmp_path / "work")) for p in (tmp_path / "work").rglob("*")
                  ) == ["into", "into/d", "into/d/real.txt"]


class LinkCase(NamedTuple):
    target: str  # relative to the source dir, or absolute
    copied: bool


LINK_CASES = {
    "in-tree file": LinkCase("d/real.txt", True),
    "out-of-tree file": LinkCase("../secret.txt", False),
    "absolute out-of-tree file": LinkCase("/etc/hostname", False),
    "dangling": LinkCase("nowhere", False),
    "in-tree directory": LinkCase("d", False),
    "the root": LinkCase("/", False),
}


@pytest.mark.parametrize("case", LINK_CASES.values(), ids=LINK_CASES.keys())
def test_a_source_link_is_copied_only_as_the_in_tree_file_it_names(
        tmux_provider: Provider, start: Start, tmp_path: Path, case: LinkCase) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "real.txt").write_text("real\n")
    (tmp_path / "secret.txt").write_text("host secret\n")
    (src / "link").symlink_to(case.target)
    name = start({"work_dir": str(tmp_path / "work")})
    res = tmux_provider.run("copy-to", name, str(src), "")
    assert res.rc == 0, res.err
    link = tmp_path / "work" / "link"
    if case.copied:
        assert link.read_text() == "real\n" and not link.is_symlink() and not res.err
    else:
        assert not os.path.lexists(link) and "'" + str(src / "link") + "'" in res.err


def test_a_bad_rel_dst_fails_the_start_before_anything_is_written(tmux_provider: Provider,
                                                                  tmp_path: Path) -> None:
    single = tmp_path / "single.txt"
    single.write_text("x")
    work = tmp_path / "work"
    cfg = {"work_dir": str(work), "command": "sleep 300", "overlay_dir": str(tmp_path),
           "copy_files": [{"src": str(single), "rel_dst": "ok.txt"},
                          {"src": str(single), "rel_dst": "a/../../escape.txt"}]}
    res = tmux_provider.run("start", "t-bad-rel", stdin=json.dumps(cfg))
    assert res.rc == 1 and len(res.err.splitlines()) == 1 and "'..'" in res.err
    assert list(work.iterdir()) == [] and not (tmp_path / "escape.txt").exists()


def test_a_directory_where_a_file_goes_is_one_line_and_exit_1(tmux_provider: Provider,
                                                              start: Start, tmp_path: Path
                                                              ) -> None:
    (tmp_path / "f.txt").write_text("x")
    name = start({"work_dir": str(tmp_path / "work")})
    (tmp_path / "work" / "taken").mkdir()
    res = tmux_provider.run("copy-to", name, str(tmp_path / "f.txt"), "taken")
    assert res.rc == 1 and len(res.err.splitlines()) == 1 and "is a directory" in res.err
    assert list((tmp_path / "work" / "taken").iterdir()) == []
