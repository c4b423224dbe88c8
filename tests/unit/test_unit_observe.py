"""`stats`: nearest-rank percentiles and error ratios per op over op lines, other lines skipped."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from protocol.observe import percentile, summarize, table


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1))
def test_percentiles_are_values_of_the_run_in_order(values: list[float]) -> None:
    ordered = sorted(values)
    got = [percentile(ordered, p) for p in (50, 95, 99, 100)]
    assert all(v in ordered for v in got)
    assert got == sorted(got) and got[-1] == ordered[-1]


def op(exe: str, name: str, code: int, ms: float) -> bytes:
    return orjson.dumps({"kind": "op", "exe": exe, "op": name, "exit": code, "duration_ms": ms})


def test_rows_per_executable_and_op_skip_call_lines_and_garbage() -> None:
    lines = [op("gc-session-k8s", "stop", 0, ms) for ms in range(1, 101)]
    lines += [op("gc-session-k8s", "stop", 1, 500.0), op("gc-beads-k8s", "stop", 0, 7.0),
              orjson.dumps({"id": "x", "op": "stop", "exit": 1, "duration_ms": 3}),  # a kubectl call
              b"not json", b"{}", orjson.dumps({"kind": "op", "exe": "e", "op": "x", "exit": "?"})]
    rows = summarize(lines)
    assert [(r["exe"], r["op"], r["count"], r["errors"]) for r in rows] == [
        ("gc-beads-k8s", "stop", 1, 0), ("gc-session-k8s", "stop", 101, 1)]
    session = rows[1]
    assert (session["p50_ms"], session["p95_ms"], session["p99_ms"]) == (51.0, 96.0, 100.0)
    assert session["error_ratio"] == round(1 / 101, 4)
    shown = table(rows).splitlines()
    assert shown[1].split()[:4] == ["gc-beads-k8s", "stop", "1", "0"]
