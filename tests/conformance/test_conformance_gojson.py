"""The start config reaches providers byte-for-byte as Go's json.Marshal writes it."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from protocol.conformance.gojson import CopyFile, StartConfig, encode, encode_start_config


class Encoding(NamedTuple):
    value: str
    wire: str


@pytest.mark.parametrize(
    "case",
    [
        Encoding("plain", '"plain"'),
        Encoding("<a>&b", '"\\u003ca\\u003e\\u0026b"'),
        Encoding("line\u2028sep\u2029", '"line\\u2028sep\\u2029"'),
        Encoding('q"b\\', '"q\\"b\\\\"'),
        Encoding("\n\r\t\b\f", '"\\n\\r\\t\\b\\f"'),
        Encoding("\x00\x1f\x7f", '"\\u0000\\u001f\x7f"'),
        Encoding("é✓🚀", '"é✓🚀"'),
        Encoding("\ud800", '"\ufffd"'),
    ],
    ids=lambda c: repr(c.value),
)
def test_strings_are_escaped_like_go(case: Encoding) -> None:
    assert encode(case.value) == case.wire


def test_empty_config_is_two_braces() -> None:
    assert encode_start_config(StartConfig()) == b"{}"


def test_fields_follow_the_wire_struct_order_and_env_keys_are_sorted() -> None:
    config = StartConfig(
        command="claude",
        work_dir="/tmp/work",
        env={"B": "2", "A": "<1>"},
        process_names=("claude", "node"),
        ready_delay_ms=2000,
        copy_files=(CopyFile("/src/a"), CopyFile("/src/b", "x/y")),
    )
    assert encode_start_config(config) == (
        b'{"work_dir":"/tmp/work","command":"claude","env":{"A":"\\u003c1\\u003e","B":"2"},'
        b'"process_names":["claude","node"],"ready_delay_ms":2000,'
        b'"copy_files":[{"src":"/src/a"},{"src":"/src/b","rel_dst":"x/y"}]}'
    )


def test_empty_env_values_are_kept_because_they_mean_unset() -> None:
    assert encode_start_config(StartConfig(env={"GC_ALIAS": ""})) == b'{"env":{"GC_ALIAS":""}}'
