"""copy-to and staging stay inside the pod work dir; host links never carry host files in.

In the pod the agent may plant links in its work dir before a `copy-to`; the
stream holds a member for every directory on a path, so tar replaces such a
link instead of following it. On the host, the work dir and overlays are
scanned with the local provider's rules (`providers.tmux.contained`).
"""

from __future__ import annotations

import os
from pathlib import Path

from k8s_helpers import K8s


def in_pod(k8s: K8s, name: str, command: str) -> str:
    res = k8s.run("exec", name, stdin=command)
    assert res.rc == 0, res
    return res.out


PLANT = """\
set -e
mkdir -p /workspace/sibling/.claude
echo orig > /workspace/sibling/todo.txt
echo '{"sibling": true}' > /workspace/sibling/.claude/settings.json
cd /workspace/rig
ln -s ../sibling notes
ln -s /workspace/sibling/todo.txt todo.txt
ln -s /workspace/sibling/.claude .claude
ln /workspace/sibling/todo.txt hard.txt
"""
LOOK = """\
cd /workspace
cat sibling/todo.txt sibling/.claude/settings.json; ls -A sibling
cd rig; find . -type l; cat todo.txt hard.txt notes/new.txt .claude/settings.json
"""


def test_copy_to_replaces_links_the_agent_planted_instead_of_writing_through_them(
        k8s: K8s, tmp_path: Path) -> None:
    city = tmp_path / "city"
    (city / "rig").mkdir(parents=True)
    src = tmp_path / "src"
    (src / "notes").mkdir(parents=True)
    (src / ".claude").mkdir()
    (src / "notes" / "new.txt").write_text("new\n")
    (src / "todo.txt").write_text("staged\n")
    (src / "hard.txt").write_text("staged\n")
    (src / ".claude" / "settings.json").write_text('{"staged": true}\n')
    (src / "notes" / "loop").symlink_to("..")  # not followed: one warning, no recursion
    name = k8s.name()
    assert k8s.start(name, {"work_dir": str(city / "rig"), "command": "sleep 300",
                            "env": {"GC_CITY": str(city)}}).rc == 0
    in_pod(k8s, name, PLANT)
    res = k8s.run("copy-to", name, str(src), "")
    assert res.rc == 0 and res.err.startswith("warning: not copied"), res
    assert len(res.err.splitlines()) == 1
    assert in_pod(k8s, name, LOOK).splitlines() == [
        "orig", '{"sibling": true}', ".claude", "todo.txt",  # the sibling as it was
        "staged", "staged", "new", '{"staged": true}']  # no link left in the work dir


def test_host_links_out_of_the_tree_and_loops_are_not_staged(k8s: K8s, tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("host private key\n")
    work = tmp_path / "work"
    (work / "d").mkdir(parents=True)
    (work / "d" / "real.txt").write_text("real\n")
    (work / "key").symlink_to(secret)
    (work / "abs").symlink_to("/etc")
    (work / "d" / "loop").symlink_to("..")
    (work / "alias.txt").symlink_to("d/real.txt")
    name = k8s.name()
    res = k8s.start(name, {"work_dir": str(work), "command": "sleep 300"})
    assert res.rc == 0, res.err
    assert res.err.startswith("warning: not copied") and len(res.err.splitlines()) == 1
    listing = in_pod(k8s, name, "cd /workspace && find . ! -name . | sort; cat alias.txt")
    assert listing.splitlines() == ["./alias.txt", "./d", "./d/real.txt", "real"]


def test_a_copy_files_rel_dst_with_dot_dot_fails_the_start_with_one_line(k8s: K8s, tmp_path: Path
                                                                         ) -> None:
    (tmp_path / "f").write_text("x")
    name = k8s.name()
    res = k8s.start(name, {"command": "sleep 300",
                           "copy_files": [{"src": str(tmp_path / "f"), "rel_dst": "a/../../x"}]})
    assert res.rc == 1 and len(res.err.splitlines()) == 1 and "'..'" in res.err
    assert k8s.pods() == []


def test_a_shared_host_work_dir_is_staged_without_following_planted_links(k8s: K8s,
                                                                          tmp_path: Path) -> None:
    work, sibling, overlay = tmp_path / "work", tmp_path / "sibling", tmp_path / "overlay"
    for d in (work, sibling, overlay / "notes"):
        d.mkdir(parents=True)
    (sibling / "todo.txt").write_text("sibling's\n")
    (work / "notes").symlink_to(sibling)
    (work / "todo.txt").symlink_to(sibling / "todo.txt")
    (overlay / "notes" / "new.txt").write_text("new\n")
    (overlay / "todo.txt").write_text("staged\n")
    name = k8s.name()
    res = k8s.start(name, {"work_dir": str(work), "command": "sleep 300",
                           "overlay_dir": str(overlay)},
                    env={**k8s.env, "GC_K8S_WORKDIR_HOSTPATH": "1"})
    assert res.rc == 0, res.err
    assert os.listdir(sibling) == ["todo.txt"]
    assert (sibling / "todo.txt").read_text() == "sibling's\n"
    assert not (work / "notes").is_symlink() and (work / "notes" / "new.txt").exists()
    assert (work / "todo.txt").read_text() == "staged\n" and not (work / "todo.txt").is_symlink()
