"""`gc-session-tmux doctor`: one line per finding, a JSON document on request, exit 1 naming what is missing."""

from __future__ import annotations

import json
import sys

import pytest
from helpers import Provider

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable


def test_doctor_passes_where_tmux_runs(tmux_provider: Provider) -> None:
    res = tmux_provider.run("doctor")
    assert res.rc == 0, res.out + res.err
    statuses = [line.split(None, 1)[0] for line in res.out.splitlines()[:-1]]
    assert len(statuses) == 5 and set(statuses) <= {"ok", "info"}
    assert res.out.splitlines()[-1] == "all checks passed"


def test_doctor_json_is_one_document_with_every_check(tmux_provider: Provider) -> None:
    res = tmux_provider.run("doctor", "--json")
    assert res.rc == 0, res.err
    doc = json.loads(res.out)
    assert doc["ok"] is True
    assert [c["name"] for c in doc["checks"]] == ["platform", "tmux", "sh", "process paths", "socket"]


def test_doctor_without_tmux_on_path_fails_in_one_line(tmux_provider: Provider) -> None:
    res = tmux_provider.run("doctor", env={"PATH": "/nonexistent"})
    assert res.rc == 1
    failed = [line for line in res.out.splitlines() if line.startswith("FAIL")]
    assert failed[0].startswith("FAIL  tmux: not found on PATH")
    assert "Traceback" not in res.out + res.err


def test_doctor_usage_errors_exit_1_not_2(tmux_provider: Provider) -> None:
    res = tmux_provider.run("doctor", "--bogus")
    assert res.rc == 1 and len(res.err.strip().splitlines()) == 1
    assert sys.platform in ("linux", "darwin")
