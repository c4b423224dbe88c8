"""The start config: every field parsed, unknown keys ignored, wrong types exit 1."""

from __future__ import annotations

import pytest

from protocol.config import CopyEntry, StartConfig, parse_start_config
from protocol.errors import UsageError

FULL = (
    b'{"work_dir":"/w","command":"claude","lifecycle":"one_shot","env":{"A":"1","B":""},'
    b'"process_names":["claude","node"],"nudge":"hi \\u003cthere\\u003e","ready_prompt_prefix":"\\u276f ",'
    b'"ready_delay_ms":2000,"pre_start":["p"],"session_setup":["s"],"session_setup_script":"/s.sh",'
    b'"session_live":["l"],"pack_overlay_dirs":["/o1"],"overlay_dir":"/o2",'
    b'"copy_files":[{"src":"/a"},{"src":"/b","rel_dst":"x/y"}],"future_field":{"x":1}}'
)


def test_all_fields_parse_and_unknown_keys_are_ignored() -> None:
    cfg = parse_start_config(FULL)
    assert cfg == StartConfig(
        work_dir="/w", command="claude", lifecycle="one_shot", env={"A": "1", "B": ""},
        process_names=("claude", "node"), nudge="hi <there>", ready_prompt_prefix="\u276f ",
        ready_delay_ms=2000, pre_start=("p",), session_setup=("s",),
        session_setup_script="/s.sh", session_live=("l",), pack_overlay_dirs=("/o1",),
        overlay_dir="/o2", copy_files=(CopyEntry(src="/a"), CopyEntry(src="/b", rel_dst="x/y")),
    )


def test_empty_value_means_unset() -> None:
    cfg = parse_start_config(b'{"env":{"A":"1","B":""}}')
    assert cfg.set_env == {"A": "1"}
    assert cfg.unset_env == ["B"]


@pytest.mark.parametrize("raw", [b"", b"{}", b"  \n"])
def test_empty_input_is_the_default_config(raw: bytes) -> None:
    assert parse_start_config(raw) == StartConfig()


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b'{"command":1}', b'{"env":{"A":1}}', b'{"process_names":"claude"}',
     b'{"ready_delay_ms":"5"}', b'{"ready_delay_ms":-1}', b'{"copy_files":[1]}',
     b'{"env":{"A=B":"x"}}'],
)
def test_wrong_types_are_usage_errors(raw: bytes) -> None:
    with pytest.raises(UsageError):
        parse_start_config(raw)


def test_config_is_frozen() -> None:
    cfg = parse_start_config(b"{}")
    with pytest.raises(AttributeError):
        cfg.command = "x"  # type: ignore[misc]
