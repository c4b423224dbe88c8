"""The kit tells what went wrong: the provider's words whole, fixes from the cause, verdicts that
do not depend on what runs beside them, a preflight, selection, a rerun file, JUnit XML, sessions
it could not stop, and help that fits 80 columns."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from xml.etree import ElementTree as ET

import orjson
import pytest
from helpers import executable
from hypothesis import given
from hypothesis import strategies as st
from kit_helpers import BROKEN, MINIMAL, TmuxIsolation, needs_tmux

from protocol.conformance import lastfailed
from protocol.conformance.context import Kit, Options
from protocol.conformance.driver import OpResult, Provider
from protocol.conformance.hints import hint
from protocol.conformance.model import Result, Status
from protocol.conformance.report import SuiteResult, render_junit, rerun_command, shown_detail
from protocol.conformance.runner import select
from protocol.conformance.session import run

pytest_plugins = ["pytester"]

KIT = executable("gc-provider-conformance")
#: Much longer than any terminal line, with the part that matters at the end.
LONG_REASON = "beads runner pod gc-beads-store-31ul " + "x" * 200 + " failed: GC_K8S_IMAGE is not set"


def wrapper(tmp_path: Path, body: str) -> Path:
    """A provider that handles some ops itself (``body``: sh case arms) and delegates the rest to minimal-sh."""
    path = tmp_path / f"provider-{uuid.uuid4().hex[:8]}"
    path.write_text(f'#!/bin/sh\nop=${{1-}}\nname=${{2-}}\ncase $op in\n{body}\nesac\nexec {MINIMAL} "$@"\n')
    path.chmod(0o755)
    return path


def kit_run(argv: list[str], isolation: TmuxIsolation, state: Path, timeout: float = 300,
            **env: str) -> subprocess.CompletedProcess[str]:
    env_args = [arg for k, v in isolation.env(**env).items() for arg in ("--env", f"{k}={v}")]
    return subprocess.run([*KIT, *argv[:1], *env_args, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "XDG_STATE_HOME": str(state), "NO_COLOR": "1"})


# --- the provider's words, whole -------------------------------------------------


def test_an_op_result_keeps_the_providers_stderr_and_stdout_whole() -> None:
    failed = OpResult(("p", "create", "n"), 1, b"", LONG_REASON.encode() + b"\nsecond line\n", False, 0.1)
    assert failed.describe() == f"create n: exit 1: {LONG_REASON}\nsecond line"
    printed = OpResult(("p", "peek", "n"), 0, LONG_REASON.encode(), b"", False, 0.1)
    assert LONG_REASON in printed.describe()


@given(st.text(max_size=300))
def test_the_terminal_shows_a_details_whole_first_line(detail: str) -> None:
    shown = shown_detail(detail)
    first = detail.partition("\n")[0]
    assert shown.startswith(first)
    assert shown_detail(detail, verbose=True).replace("\n      ", "\n") == detail


# --- fixes from the cause ----------------------------------------------------------


def test_an_op_that_exits_0_and_prints_nothing_is_told_to_exit_2_not_how_exec_works() -> None:
    fix = hint("RPP-CONN-001", "exec echo: exec gc-conf-x-1: exit 0, stdout ''")
    assert "exit 2" in fix and "sh -c" not in fix
    assert hint("RPP-CONN-001", "exec 'exit 7' must exit 7: exec gc-conf-x-1: exit 1: boom") == hint("RPP-CONN-001")


def test_a_failed_start_gets_a_start_fix_whatever_the_check() -> None:
    fix = hint("GC-STRICT-NUDGE-001", "start: start gc-conf-x-1: exit 1: GC_K8S_IMAGE is not set")
    assert fix.startswith("start exited 1")


def test_a_timeout_and_a_missing_interpreter_get_their_own_fix() -> None:
    assert "did not finish in 30.0 s" in hint("CHECK-03-IS-RUNNING", "is-running n: timed out after 30.0s")
    assert "command not found" in hint("RPP-LIFECYCLE-001", "start: start n: exit 127: sh: 1: nope: not found")


# --- selection and --list ---------------------------------------------------------


def test_only_matches_part_of_an_id_a_glob_or_a_suite() -> None:
    def codes(*only: str) -> list[str]:
        return [spec.code for unit in select(only) for spec in unit.specs]

    assert codes("USAGE-004") == ["GC-STRICT-USAGE-004"]
    assert codes("usage-004") == ["GC-STRICT-USAGE-004"]
    strict = codes("GC-STRICT-*")
    assert strict and all(code.startswith("GC-STRICT-") for code in strict)
    assert codes("strict") == strict
    assert codes("GC-STRICT-USAGE-00?") == [f"GC-STRICT-USAGE-00{n}" for n in range(1, 6)]
    assert codes("nothing-like-this") == []
    assert [spec.code for unit in select(["BEADS-GET-NOT-FOUND"], beads=True) for spec in unit.specs] == [
        "BEADS-GET-NOT-FOUND"]


def test_list_prints_ids_and_titles_without_a_provider() -> None:
    res = subprocess.run([*KIT, "--list", "--only", "USAGE-004"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["GC-STRICT-USAGE-004  an unknown operation exits 2 with empty stdout"]
    everything = subprocess.run([*KIT, "--list"], capture_output=True, text=True, timeout=60)
    assert len(everything.stdout.splitlines()) == sum(len(unit.specs) for unit in select())


def test_help_fits_80_columns_with_whole_option_names_and_no_type_tags() -> None:
    res = subprocess.run([*KIT, "--help"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "80"})
    assert res.returncode == 0
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    for option in ("--cold-start-threshold-ms", "--backing-name-command", "--last-failed", "--junit-xml", "--list",
                   "--verbose", "--no-preflight"):
        assert option in res.stdout
    assert "<bool>" not in res.stdout and "<list" not in res.stdout and "…" not in res.stdout


# --- preflight ----------------------------------------------------------------------


@needs_tmux
def test_preflight_stops_at_the_first_failed_start_with_its_whole_reason(
    tmp_path: Path, tmux_isolation: TmuxIsolation
) -> None:
    provider = wrapper(tmp_path, f"start) cat >/dev/null; echo '{LONG_REASON}' >&2; exit 1 ;;")
    res = kit_run([str(provider)], tmux_isolation, tmp_path / "state")
    assert res.returncode == 1
    assert res.stdout == ""  # no checks ran, so no report of FAILs and SKIPs
    assert "preflight failed, no checks run" in res.stderr and LONG_REASON in res.stderr
    assert "fix: start exited 1" in res.stderr
    doc = orjson.loads(kit_run([str(provider), "--json"], tmux_isolation, tmp_path / "state").stdout)
    assert doc["results"] == [] and LONG_REASON in doc["preflight"]["detail"]


# --- cause-derived fix, whole detail, rerun file and JUnit XML, end to end -----------


@needs_tmux
def test_a_provider_exiting_0_for_an_op_it_lacks_is_told_so_in_json_junit_and_the_rerun_file(
    tmp_path: Path, tmux_isolation: TmuxIsolation
) -> None:
    provider = wrapper(tmp_path, "exec) exit 0 ;;")
    state, junit = tmp_path / "state", tmp_path / "junit.xml"
    res = kit_run([str(provider), "--only", "RPP-CONN-001", "--json", "--junit-xml", str(junit)], tmux_isolation,
                  state)
    assert res.returncode == 1, res.stderr
    (result,) = orjson.loads(res.stdout)["results"]
    assert result["code"] == "RPP-CONN-001" and result["status"] == "FAIL"
    assert "exit 2" in result["hint"] and "sh -c" not in result["hint"]
    case = ET.parse(junit).getroot().find(".//testcase[@name='RPP-CONN-001']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and failure.text is not None and result["detail"] in failure.text
    listed = kit_run([str(provider), "--last-failed", "--list"], tmux_isolation, state)
    assert listed.stdout.splitlines()[0].split()[0] == "RPP-CONN-001"
    assert len(listed.stdout.splitlines()) == 1


@needs_tmux
def test_last_failed_reruns_the_failures_and_forgets_what_passed(
    tmp_path: Path, tmux_isolation: TmuxIsolation
) -> None:
    state = tmp_path / "state"
    failing = kit_run([str(BROKEN), "--only", "USAGE-004", "--only", "RPP-LIFECYCLE-005"], tmux_isolation, state,
                      BREAK="unknown-op-exit-0")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    rerun = kit_run([str(BROKEN), "--last-failed", "--json"], tmux_isolation, state, BREAK="unknown-op-exit-0")
    assert [r["code"] for r in orjson.loads(rerun.stdout)["results"]] == ["GC-STRICT-USAGE-004"]
    fixed = kit_run([str(BROKEN), "--last-failed"], tmux_isolation, state, BREAK="")
    assert fixed.returncode == 0, fixed.stdout
    again = kit_run([str(BROKEN), "--last-failed", "--list"], tmux_isolation, state, BREAK="")
    assert "no failed checks recorded" in again.stderr
    assert len(again.stdout.splitlines()) == sum(len(unit.specs) for unit in select())


def test_the_rerun_hint_stays_short_for_many_failures() -> None:
    few = rerun_command("./p", ["A-1", "A-2"])
    assert few.endswith("--only A-1 --only A-2")
    many = rerun_command("./p", [f"A-{n}" for n in range(20)], env={"K": "v"})
    assert many == "gc-provider-conformance ./p --env K=v --last-failed"


def test_the_rerun_file_is_per_provider_and_kept_for_checks_that_did_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    lastfailed.update("/a/prov", False, ["X-1", "X-2"], ["X-1", "X-2"])
    lastfailed.update("/a/prov", False, ["X-2"], [])
    assert lastfailed.load("/a/prov") == ["X-1"]
    assert lastfailed.load("/b/prov") == [] and lastfailed.load("/a/prov", beads=True) == []
    assert lastfailed.path_for("/a/prov").is_relative_to(tmp_path)


def test_junit_xml_holds_control_characters_and_whole_details() -> None:
    detail = f"typed \x03\x1b[A then {LONG_REASON}\nline two"
    rows = [SuiteResult("strict", Result("GC-STRICT-NUDGE-001", "nudge", "t", Status.FAIL, detail)),
            SuiteResult("strict", Result("GC-STRICT-NUDGE-002", "nudge", "t", Status.SKIP, "nudge: exit 2"))]
    root = ET.fromstring(render_junit("./p", rows, {"GC-STRICT-NUDGE-001": 1.5}))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("skipped") == "1"
    failure = root.find(".//testcase[@name='GC-STRICT-NUDGE-001']/failure")
    assert failure is not None and failure.text is not None
    assert LONG_REASON in failure.text and "line two" in failure.text and "\\x03" in failure.text


# --- sessions it could not stop ------------------------------------------------------


def test_sessions_the_kit_could_not_stop_are_kept_by_name(tmp_path: Path) -> None:
    refuses = tmp_path / "refuses"
    refuses.write_text('#!/bin/sh\ncase $1 in is-running) echo true ;; *) echo "$1: permission denied" >&2; exit 1 ;;'
                       " esac\n")
    refuses.chmod(0o755)
    kit = Kit(Provider([str(refuses)]), Options())
    kit.track("name\nwith a newline")
    kit.cleanup()
    assert kit.unstopped == [("name\nwith a newline", "stop name\nwith a newline: exit 1: stop: permission denied")]


def test_a_name_whose_start_was_refused_is_not_reported_as_unstopped(tmp_path: Path) -> None:
    invalid = tmp_path / "invalid"
    invalid.write_text('#!/bin/sh\ncat >/dev/null; echo "$1: invalid session name" >&2; exit 1\n')
    invalid.chmod(0o755)
    kit = Kit(Provider([str(invalid)]), Options())
    assert not kit.start("bad\nname").ok
    kit.cleanup()
    assert kit.unstopped == []


@needs_tmux
def test_the_cli_names_each_session_it_could_not_stop(tmp_path: Path, tmux_isolation: TmuxIsolation) -> None:
    provider = wrapper(tmp_path, "stop) echo 'stop: refused by policy' >&2; exit 1 ;;")
    res = kit_run([str(provider), "--only", "RPP-LIFECYCLE-001", "--json"], tmux_isolation, tmp_path / "state")
    unstopped = orjson.loads(res.stdout)["unstopped"]
    assert unstopped and all(u["name"].startswith("gc-conf-") for u in unstopped)
    for entry in unstopped:
        assert f"could not stop session {entry['name']!r}: " in res.stderr
    assert "stop: refused by policy" in res.stderr
    assert res.returncode == 0  # every check passed; the leftovers are named, not counted as FAILs


# --- verdicts that do not depend on --workers -----------------------------------------


@needs_tmux
def test_activity_shown_late_still_passes_as_it_would_alone(tmp_path: Path, tmux_isolation: TmuxIsolation) -> None:
    """A provider that sees output late (a busy tmux server, a cache) gets the same verdict as an idle one."""
    cache = tmp_path / "activity-cache"
    cache.mkdir()
    # get-last-activity answers from a 3 s cache: output shows up to 3 s late.
    body = f"""get-last-activity)
    f={cache}/$(printf %s "$name" | od -An -tx1 | tr -d ' \\n')
    if [ -f "$f" ] && [ $(( $(date +%s) - $(stat -c %Y "$f") )) -lt 3 ]; then cat "$f"; exit 0; fi
    {MINIMAL} "$@" > "$f.new" && mv "$f.new" "$f" && cat "$f"; exit ;;"""
    provider = wrapper(tmp_path, body)
    outcome = run(str(provider), tmux_isolation.env(), ["GC-STRICT-ACTIVITY-001"],
                  options=Options(workers=1))
    (row,) = outcome.rows
    assert row.result.status is Status.PASS, row.result.detail


def test_a_run_without_a_provider_or_with_no_workers_is_one_line_exit_1() -> None:
    for argv in ([], [str(MINIMAL), "--workers", "0"], ["--last-failed"]):
        res = subprocess.run([*KIT, *argv], capture_output=True, text=True, timeout=60)
        assert res.returncode == 1, argv
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("gc-provider-conformance: ")
        assert res.stdout == ""


@needs_tmux
def test_the_pytest_plugin_names_each_session_it_could_not_stop(
    pytester: pytest.Pytester, tmp_path: Path, tmux_isolation: TmuxIsolation
) -> None:
    provider = wrapper(tmp_path, "stop) echo 'stop: refused by policy' >&2; exit 1 ;;")
    env_args = [f"--gc-provider-env={k}={v}" for k, v in tmux_isolation.env().items()]
    result = pytester.runpytest_subprocess(f"--gc-provider={provider}", *env_args,
                                           "--gc-provider-only=RPP-LIFECYCLE-001", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gc-provider-conformance: could not stop session 'gc-conf-*': *refused by policy"])
