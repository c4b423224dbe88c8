"""Any start config gc could send, or a careless caller could, parses or is one clear
`UsageError`: never another exception, and a NUL byte in any string is refused."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.config import LISTS, STRINGS, parse_start_config
from protocol.errors import UsageError

FIELDS = [*STRINGS, *LISTS, "env", "copy_files", "ready_delay_ms"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)  # a loaded machine
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4))
def test_any_json_in_known_fields_parses_or_is_one_usage_error(cfg: dict[str, object]) -> None:
    try:
        parse_start_config(json.dumps(cfg).encode())
    except UsageError as error:
        assert "\n" not in str(error)


@given(st.sampled_from(STRINGS), st.text(), st.text())
def test_a_nul_byte_in_any_string_field_is_refused(field: str, head: str, tail: str) -> None:
    for cfg in ({field: f"{head}\0{tail}"}, {"env": {"K": f"{head}\0{tail}"}},
                {"copy_files": [{"src": f"{head}\0{tail}"}]}):
        try:
            parse_start_config(json.dumps(cfg).encode())
        except UsageError as error:
            assert "NUL" in str(error)
        else:
            raise AssertionError(f"accepted {cfg!r}")


@given(st.sampled_from(LISTS), st.lists(st.text(), max_size=3), st.text())
def test_a_nul_byte_in_any_list_item_is_refused(field: str, items: list[str], bad: str) -> None:
    try:
        parse_start_config(json.dumps({field: [*items, bad + "\0"]}).encode())
    except UsageError as error:
        assert "NUL" in str(error) and field in str(error)
    else:
        raise AssertionError("accepted")
