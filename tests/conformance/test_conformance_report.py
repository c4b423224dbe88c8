"""Reports keep the text and JSON shapes of upstream's checkers."""

from __future__ import annotations

import orjson

from protocol.conformance.context import Handshake
from protocol.conformance.driver import OpResult
from protocol.conformance.model import Result, Status
from protocol.conformance.report import (
    SuiteResult,
    check_line,
    render_json,
    render_text,
    requirement_line,
)

ROWS = [
    SuiteResult("check", Result("CHECK-01-PROTOCOL", "check", "protocol handshake", Status.PASS, "version 0")),
    SuiteResult("check", Result("CHECK-07-NUDGE", "check", "optional: nudge", Status.SKIP, "")),
    SuiteResult("rpp", Result("RPP-LIFECYCLE-002", "lifecycle", "start twice fails", Status.FAIL, "exit 0")),
    SuiteResult("rpp", Result("RPP-LIFECYCLE-004", "lifecycle", "stop missing", Status.PASS, "")),
]


def test_check_lines_use_status_name_and_colon_detail() -> None:
    assert check_line(ROWS[0].result) == "PASS protocol handshake: version 0"
    assert check_line(ROWS[1].result) == "SKIP optional: nudge"


def test_requirement_lines_use_status_code_two_spaces_title_and_dash_detail() -> None:
    assert requirement_line(ROWS[2].result) == "FAIL RPP-LIFECYCLE-002  start twice fails — exit 0"
    assert requirement_line(ROWS[3].result) == "PASS RPP-LIFECYCLE-004  stop missing"


def test_text_report_ends_each_suite_with_a_blank_line_and_a_summary() -> None:
    text = render_text("/bin/p", ROWS)
    assert "\n\n2 checks: 1 passed, 0 failed, 1 skipped\n" in text
    assert "\n\n2 requirements: 1 passed, 1 failed, 0 skipped\n" in text
    assert text.endswith("total: 4 checks: 2 passed, 1 failed, 1 skipped\n")


def test_json_report_has_upstream_shape_and_omits_empty_detail() -> None:
    probe = OpResult(("p", "protocol"), 0, b"", b"", False, 0.0)
    handshake = Handshake(probe, 0, ("report-activity",), "")
    doc = orjson.loads(render_json("/bin/p", handshake, ROWS))
    assert doc["executable"] == "/bin/p"
    assert doc["protocol"] == {"version": 0, "capabilities": ["report-activity"]}
    assert doc["summary"] == {"passed": 2, "failed": 1, "skipped": 1}
    assert doc["results"][1] == {
        "code": "CHECK-07-NUDGE",
        "suite": "check",
        "group": "check",
        "title": "optional: nudge",
        "status": "SKIP",
        "duration_s": 0.0,
    }


def test_json_protocol_is_version_zero_without_capabilities_when_the_handshake_failed() -> None:
    probe = OpResult(("p", "protocol"), 1, b"", b"boom", False, 0.0)
    doc = orjson.loads(render_json("/bin/p", Handshake(probe, 0, (), "protocol: boom"), []))
    assert doc["protocol"] == {"version": 0}
