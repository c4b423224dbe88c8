"""`gc-session-tmux doctor`: one line per finding, a JSON document on request, exit 1 naming what is missing."""

from __future__ import annotations

import json
import shutil
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
    assert failed[0].startswith("FAIL  tmux: ") and "not found on PATH" in failed[0]
    assert "Traceback" not in res.out + res.err


def test_doctor_usage_errors_exit_1_not_2(tmux_provider: Provider) -> None:
    res = tmux_provider.run("doctor", "--bogus")
    assert res.rc == 1 and len(res.err.strip().splitlines()) == 1
    assert sys.platform in ("linux", "darwin")


def test_doctor_fails_when_gc_tmux_names_a_missing_binary(tmux_provider: Provider) -> None:
    """Every op runs ``$GC_TMUX``; a doctor that checks tmux on PATH instead is green while they all fail."""
    res = tmux_provider.run("doctor", env={"GC_TMUX": "/nonexistent/tmux"})
    assert res.rc == 1, res.out
    tmux = next(line for line in res.out.splitlines() if line.split()[1:2] == ["tmux:"])
    assert tmux.startswith("FAIL") and "/nonexistent/tmux" in tmux
    assert res.out.splitlines()[-1] == "some checks failed"


def test_doctor_fails_when_gc_tmux_runs_but_is_not_tmux(tmux_provider: Provider) -> None:
    res = tmux_provider.run("doctor", "--json", env={"GC_TMUX": "/bin/false"})
    assert res.rc == 1, res.out
    tmux = next(c for c in json.loads(res.out)["checks"] if c["name"] == "tmux")
    assert tmux["status"] == "fail" and "/bin/false -V" in tmux["detail"]


def test_doctor_reports_the_gc_tmux_binary_it_ran(tmux_provider: Provider) -> None:
    real = shutil.which("tmux")
    assert real
    res = tmux_provider.run("doctor", "--json", env={"GC_TMUX": real})
    assert res.rc == 0, res.out
    tmux = next(c for c in json.loads(res.out)["checks"] if c["name"] == "tmux")
    assert tmux["status"] == "ok" and tmux["detail"].endswith(f"({real})")
