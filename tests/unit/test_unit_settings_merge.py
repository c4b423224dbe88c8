"""JSON-merge of provider settings files, pinned to gascity internal/overlay/merge.go."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from gc_session_k8s.pod import staging
from gc_session_k8s.pod.environment import WORKSPACE
from protocol.config import CopyEntry, StartConfig
from providers.tmux import overlay, settings_merge

CLAUDE = ".claude/settings.json"
CODEX = ".codex/hooks.json"


def cmd(command: str) -> dict[str, str]:
    return {"type": "command", "command": command}


def wrapped(matcher: str, *commands: str) -> dict[str, Any]:
    return {"matcher": matcher, "hooks": [cmd(c) for c in commands]}


def merged(rel: str, base: object, over: object) -> Any:
    return json.loads(settings_merge.staged(rel, json.dumps(over).encode(), json.dumps(base).encode()))


class Case(NamedTuple):
    test_id: str
    rel: str
    base: dict[str, Any]
    over: dict[str, Any]
    expected: dict[str, Any]


# Mostly merge_test.go's scenarios (TestMergeSettingsJSON_*), on the same shapes.
CASES = [
    Case("categories-are-unioned", CLAUDE,
         {"hooks": {"SessionStart": [wrapped("", "gc prime")]}},
         {"hooks": {"PreToolUse": [wrapped("Bash(*foo*)", "guard")]}},
         {"hooks": {"SessionStart": [wrapped("", "gc prime")],
                    "PreToolUse": [wrapped("Bash(*foo*)", "guard")]}}),
    Case("same-matcher-is-replaced-by-the-overlay", CLAUDE,
         {"hooks": {"PreCompact": [wrapped("", "gc prime")]}},
         {"hooks": {"PreCompact": [wrapped("", "gc handoff")]}},
         {"hooks": {"PreCompact": [wrapped("", "gc handoff")]}}),
    Case("new-matcher-is-appended-after-base", CLAUDE,
         {"hooks": {"PreToolUse": [wrapped("Bash", "a")]}},
         {"hooks": {"PreToolUse": [wrapped("Edit", "b")]}},
         {"hooks": {"PreToolUse": [wrapped("Bash", "a"), wrapped("Edit", "b")]}}),
    Case("command-identity-replaces-in-place-and-appends", ".cursor/hooks.json",
         {"hooks": {"PreToolUse": [{"command": "lint.sh", "on": "save"}, {"command": "keep.sh"}]}},
         {"hooks": {"PreToolUse": [{"command": "lint.sh", "on": "always"}, {"command": "fmt.sh"}]}},
         {"hooks": {"PreToolUse": [{"command": "lint.sh", "on": "always"}, {"command": "keep.sh"},
                                   {"command": "fmt.sh"}]}}),
    Case("bash-identity-replaces", ".github/hooks/gascity.json",
         {"hooks": {"Stop": [{"bash": "cleanup.sh"}]}},
         {"hooks": {"Stop": [{"bash": "cleanup.sh", "timeout": 30}]}},
         {"hooks": {"Stop": [{"bash": "cleanup.sh", "timeout": 30}]}}),
    Case("matcherless-wrapper-is-deduped-by-its-inner-hooks", CLAUDE,
         {"hooks": {"Stop": [wrapped("", "gc hook"), {"hooks": [cmd("capture.sh")]}]}},
         {"hooks": {"Stop": [{"hooks": [cmd("capture.sh")]}, {"hooks": [cmd("other.sh")]}]}},
         {"hooks": {"Stop": [wrapped("", "gc hook"), {"hooks": [cmd("capture.sh")]},
                             {"hooks": [cmd("other.sh")]}]}}),
    Case("entries-without-identity-are-appended", ".gemini/settings.json",
         {"hooks": {"Stop": [{"custom": "field1"}]}},
         {"hooks": {"Stop": [{"custom": "field2"}]}},
         {"hooks": {"Stop": [{"custom": "field1"}, {"custom": "field2"}]}}),
    Case("a-non-string-matcher-has-no-identity", CODEX,
         {"hooks": {"Stop": [{"matcher": 1, "command": "a"}]}},
         {"hooks": {"Stop": [{"matcher": 1, "command": "b"}]}},
         {"hooks": {"Stop": [{"matcher": 1, "command": "a"}, {"matcher": 1, "command": "b"}]}}),
    Case("an-empty-overlay-array-keeps-the-base-entries", CLAUDE,
         {"hooks": {"SessionStart": [wrapped("", "gc prime")]}},
         {"hooks": {"SessionStart": []}},
         {"hooks": {"SessionStart": [wrapped("", "gc prime")]}}),
    Case("a-non-array-category-is-last-writer-wins", ".agents/hooks.json",
         {"hooks": {"Stop": [{"command": "a"}]}},
         {"hooks": {"Stop": {"command": "b"}}},
         {"hooks": {"Stop": {"command": "b"}}}),
    Case("a-non-object-overlay-hooks-keeps-the-base-hooks", CODEX,
         {"hooks": {"Stop": [{"command": "a"}]}},
         {"hooks": ["ignored"]},
         {"hooks": {"Stop": [{"command": "a"}]}}),
    Case("other-top-level-keys-overlay-wins-base-kept", CLAUDE,
         {"version": "1.0", "editorMode": "vim"},
         {"version": "2.0", "newKey": True},
         {"version": "2.0", "editorMode": "vim", "newKey": True}),
    Case("nested-objects-are-replaced-not-merged", CLAUDE,
         {"permissions": {"allow": ["Bash"], "deny": ["rm"]}, "env": {"A": "1"}},
         {"permissions": {"allow": ["Edit"]}},
         {"permissions": {"allow": ["Edit"]}, "env": {"A": "1"}}),
    Case("claude-bare-entries-are-wrapped-on-both-sides", CLAUDE,
         {"hooks": {"PreToolUse": [cmd("old")]}},
         {"hooks": {"PreToolUse": [cmd("scan")]}},
         {"hooks": {"PreToolUse": [wrapped("", "old"), wrapped("", "scan")]}}),
    Case("codex-bare-entries-stay-bare", CODEX,
         {"hooks": {"PreToolUse": [{"command": "lint.sh"}]}},
         {"hooks": {"PreToolUse": [{"command": "lint.sh", "on": "always"}]}},
         {"hooks": {"PreToolUse": [{"command": "lint.sh", "on": "always"}]}}),
]


@pytest.mark.parametrize(list(Case._fields), CASES, ids=[c.test_id for c in CASES])
def test_merge_matches_gas_city(test_id: str, rel: str, base: dict[str, Any], over: dict[str, Any],
                                expected: dict[str, Any]) -> None:
    assert merged(rel, base, over) == expected


@pytest.mark.parametrize(list(Case._fields), CASES, ids=[c.test_id for c in CASES])
def test_merging_the_same_overlay_again_changes_nothing(test_id: str, rel: str, base: dict[str, Any],
                                                        over: dict[str, Any], expected: dict[str, Any]) -> None:
    once = settings_merge.staged(rel, json.dumps(over).encode(), json.dumps(base).encode())
    assert settings_merge.staged(rel, json.dumps(over).encode(), once) == once


def test_a_bare_claude_hook_restaged_on_every_start_stays_one_entry() -> None:
    # Go appends one wrapped copy per start here (the documented deviation).
    over = json.dumps({"hooks": {"PreToolUse": [cmd("scan")]}}).encode()
    data = settings_merge.staged(CLAUDE, over, None)
    for _ in range(3):
        data = settings_merge.staged(CLAUDE, over, data)
    assert json.loads(data) == {"hooks": {"PreToolUse": [wrapped("", "scan")]}}


class Unmergeable(NamedTuple):
    test_id: str
    base: bytes
    over: bytes


UNMERGEABLE = [
    Unmergeable("invalid-destination", b"{not json", b'{"a": 1}'),
    Unmergeable("invalid-overlay", b'{"a": 1}', b"{not json"),
    Unmergeable("array-destination", b"[1]", b'{"a": 1}'),
    Unmergeable("null-overlay", b'{"a": 1}', b"null"),
    Unmergeable("trailing-data", b'{"a": 1} {}', b'{"b": 2}'),
]


@pytest.mark.parametrize(list(Unmergeable._fields), UNMERGEABLE, ids=[c.test_id for c in UNMERGEABLE])
def test_an_unmergeable_side_means_the_overlay_replaces_the_file_verbatim(test_id: str, base: bytes,
                                                                          over: bytes) -> None:
    assert settings_merge.staged(CLAUDE, over, base) == over


def test_output_is_sorted_indented_by_two_with_a_trailing_newline_and_no_html_escaping() -> None:
    out = settings_merge.staged(CODEX, b'{"b": 1, "a": {"c": "x && y <z>"}}', b"{}")
    assert out == b'{\n  "a": {\n    "c": "x && y <z>"\n  },\n  "b": 1\n}\n'


def test_a_new_file_is_canonicalised_wrapped_and_else_copied_verbatim() -> None:
    assert settings_merge.staged(CODEX, b'{"z":[],"a":1}', None) == b'{\n  "a": 1,\n  "z": []\n}\n'
    fresh = settings_merge.staged(CLAUDE, json.dumps({"hooks": {"Stop": [cmd("x")]}}).encode(), None)
    assert json.loads(fresh) == {"hooks": {"Stop": [wrapped("", "x")]}}
    assert settings_merge.staged(CLAUDE, b"not json", None) == b"not json"


def test_large_integers_survive_the_merge() -> None:
    out = settings_merge.staged(CLAUDE, b'{"hooks": {}}', b'{"sequence": 9007199254740993}')
    assert b"9007199254740993" in out


@pytest.mark.parametrize(("rel", "mergeable"), [
    (".claude/settings.json", True), (".gemini/settings.json", True), (".codex/hooks.json", True),
    (".cursor/hooks.json", True), (".github/hooks/gascity.json", True), (".agents/hooks.json", True),
    ("./.claude/settings.json", True), (".claude/settings.local.json", False), ("settings.json", False),
    (".claude/hooks.json", False), ("sub/.claude/settings.json", False), ("", False),
])
def test_only_gas_citys_settings_paths_are_mergeable(rel: str, mergeable: bool) -> None:
    assert settings_merge.is_mergeable(rel) is mergeable


def write_json(path: Path, doc: object, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    path.chmod(mode)


def test_a_merged_file_keeps_an_existing_files_mode_and_a_new_one_gets_the_sources(tmp_path: Path
                                                                                  ) -> None:
    src, old, new = tmp_path / "src", tmp_path / "old", tmp_path / "new"
    write_json(src / CLAUDE, {"a": 1}, 0o640)
    write_json(old / CLAUDE, {"b": 2}, 0o600)
    overlay.copy_into(str(old), str(src), "")
    overlay.copy_into(str(new.parent), str(src), "new")
    assert json.loads((old / CLAUDE).read_text()) == {"a": 1, "b": 2}
    assert (old / CLAUDE).stat().st_mode & 0o777 == 0o600
    assert (new / CLAUDE).stat().st_mode & 0o777 == 0o640


def layered_config(tmp_path: Path) -> StartConfig:
    """Work dir with a SessionStart hook; a pack adds PreToolUse, the overlay Stop (via per-provider)."""
    work, pack, over = tmp_path / "work", tmp_path / "pack", tmp_path / "overlay"
    write_json(work / CLAUDE, {"model": "opus", "hooks": {"SessionStart": [wrapped("", "gc prime")]}})
    write_json(pack / CLAUDE, {"hooks": {"PreToolUse": [wrapped("Bash", "guard")]}})
    write_json(over / "per-provider" / "claude" / CLAUDE, {"hooks": {"Stop": [cmd("gc hook")]}})
    write_json(over / "sub" / CLAUDE, {"nested": True})  # not at a tree root: plain copy
    return StartConfig(work_dir=str(work), env={"GC_PROVIDER": "claude"},
                       pack_overlay_dirs=(str(pack),), overlay_dir=str(over))


LAYERED = {"model": "opus", "hooks": {"SessionStart": [wrapped("", "gc prime")],
                                      "PreToolUse": [wrapped("Bash", "guard")],
                                      "Stop": [wrapped("", "gc hook")]}}


def test_local_staging_merges_every_layer_and_a_restart_adds_nothing(tmp_path: Path) -> None:
    cfg = layered_config(tmp_path)
    work = Path(cfg.work_dir)
    (work / "sub" / ".claude").mkdir(parents=True)
    (work / "sub" / CLAUDE).write_text('{"old": true}')
    overlay.stage(cfg, cfg.work_dir)
    first = (work / CLAUDE).read_bytes()
    overlay.stage(cfg, cfg.work_dir)
    assert json.loads(first) == LAYERED
    assert (work / CLAUDE).read_bytes() == first
    assert json.loads((work / "sub" / CLAUDE).read_text()) == {"nested": True}


def members(data: bytes) -> list[tuple[str, bytes]]:
    found = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            body = tar.extractfile(member)
            found.append((member.name, body.read() if body else b""))
    return found


def test_the_staging_tar_holds_each_settings_file_once_with_the_merged_content(tmp_path: Path) -> None:
    cfg = layered_config(tmp_path)
    data = staging.build(cfg, city="", pod_work_dir=WORKSPACE + "/rig")
    found = [(name, body) for name, body in members(data) if name.endswith("settings.json")]
    assert [name for name, _ in found] == ["rig/.claude/settings.json", "rig/sub/.claude/settings.json"]
    assert json.loads(found[0][1]) == LAYERED
    assert json.loads(found[1][1]) == {"nested": True}
    assert members(data)[-1][0] == staging.SENTINEL


def test_the_staging_tar_matches_local_staging_byte_for_byte(tmp_path: Path) -> None:
    cfg = layered_config(tmp_path)
    data = staging.build(cfg, city="", pod_work_dir=WORKSPACE)
    overlay.stage(cfg, cfg.work_dir)
    assert dict(members(data))[CLAUDE] == (Path(cfg.work_dir) / CLAUDE).read_bytes()


def test_a_work_dir_settings_file_alone_is_staged_verbatim(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / CLAUDE).write_text('{"b":1, "a":2}')
    data = staging.build(StartConfig(work_dir=str(tmp_path)), city="", pod_work_dir=WORKSPACE)
    assert dict(members(data))[CLAUDE] == b'{"b":1, "a":2}'


def test_a_copy_files_file_onto_a_settings_path_replaces_the_merged_one(tmp_path: Path) -> None:
    cfg = layered_config(tmp_path)
    single = tmp_path / "replacement.json"
    single.write_text("{}")
    cfg = StartConfig(work_dir=cfg.work_dir, env=cfg.env, overlay_dir=cfg.overlay_dir,
                      copy_files=(CopyEntry(src=str(single), rel_dst=CLAUDE),))
    found = [body for name, body in members(staging.build(cfg, city="", pod_work_dir=WORKSPACE))
             if name == CLAUDE]
    assert found == [b"{}"]
