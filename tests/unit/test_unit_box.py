"""The shared box logic (providers.tmux.box): what exec and proc-stream accept, how a
watch-startup snapshot is framed, and how gc's carried tmux commands are re-aimed."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import UsageError
from providers.tmux.box import COMMAND_MAX, _split_command, command, retarget, snapshot

ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]))


@given(ANY_TEXT)
def test_a_snapshot_is_one_json_line_whatever_the_screen_holds(screen: str) -> None:
    line = snapshot(screen)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert orjson.loads(line) == {"content": screen}


@given(st.binary(max_size=200).filter(lambda b: b"\0" not in b and b.strip()))
def test_any_command_without_nul_up_to_the_argument_limit_is_taken_as_is(raw: bytes) -> None:
    assert command(raw, "exec") == raw


@pytest.mark.parametrize(("raw", "why"), [(b"echo a\0b", "NUL"), (b"x" * (COMMAND_MAX + 1), "at most"),
                                          (b"", "no command"), (b" \n", "no command")])
def test_a_command_no_shell_can_take_is_refused_in_one_line(raw: bytes, why: str) -> None:
    with pytest.raises(UsageError, match=why) as caught:
        command(raw, "proc-stream")
    assert "\n" not in str(caught.value)


@given(st.lists(ANY_TEXT.filter(lambda a: a not in ("-t", "-s")), max_size=8))
def test_arguments_without_a_main_target_pass_unchanged(args: list[str]) -> None:
    assert retarget(args, "=w1:", "w1") == args


@given(st.lists(ANY_TEXT, max_size=6), st.lists(ANY_TEXT, max_size=6))
def test_main_after_t_or_s_is_the_session_and_nothing_else_changes(head: list[str], tail: list[str]) -> None:
    args = [a for a in head if a not in ("-t", "-s")] + ["-t", "main"] + [a for a in tail if a not in ("-t", "-s")]
    out = retarget(args, "=w1:", "w1")
    assert out == [("=w1:" if a == "main" and i and args[i - 1] == "-t" else a) for i, a in enumerate(args)]
    assert retarget(["new-session", "-d", "-s", "main", "main"], "=w1:", "w1") == [
        "new-session", "-d", "-s", "w1", "main"]
    assert retarget(["send-keys", "-t", "main:0.0"], "=w1:", "w1") == ["send-keys", "-t", "=w1:0.0"]


@pytest.mark.parametrize(("args", "split"), [
    (["new-session", "-d", "-s", "w", "sleep 1"], (["new-session", "-d", "-s", "w"], ["--", "sleep 1"])),
    (["respawn-pane", "-k", "-t", "=w:", "--", "-x"], (["respawn-pane", "-k", "-t", "=w:"], ["--", "-x"])),
    (["new-session", "-d", "-s", "w"], (["new-session", "-d", "-s", "w"], [])),
    (["respawn-pane", "-k", "-t", "=w:", "sh", "-c", "x"], (["respawn-pane", "-k", "-t", "=w:"],
                                                           ["--", "sh", "-c", "x"])),
])
def test_a_carried_launch_splits_its_flags_from_its_command(args: list[str],
                                                           split: tuple[list[str], list[str]]) -> None:
    assert _split_command(args[0], args) == split
