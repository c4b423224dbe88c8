"""Text and JSON reports, in the shapes of upstream's checkers.

Text: the ``check`` suite prints like ``gc runtime check`` (``%-4s %s`` and
``: detail``); every other suite prints like ``gc runtime conformance``
(``%-4s %s  %s`` and `` — detail``). Each suite ends with a blank line and
``N <noun>: P passed, F failed, S skipped``.

JSON: one indented document shaped like ``gc runtime conformance --json``
(``executable``, ``protocol``, ``results``, ``summary``), each result with the
extra key ``suite``; ``detail`` and ``capabilities`` are omitted when empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import orjson

from protocol.conformance.context import Handshake
from protocol.conformance.model import Result, Status

SUITE_HEADINGS = {
    "check": ("gc runtime check", "checks"),
    "rpp": ("gc runtime conformance", "requirements"),
    "runtimetest": ("runtimetest (upstream provider suite)", "checks"),
    "strict": ("strict checks", "checks"),
    "beads": ("exec beads store", "checks"),
}


class SuiteResult(NamedTuple):
    suite: str
    result: Result


class Summary(NamedTuple):
    passed: int
    failed: int
    skipped: int

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped


def summarize(results: Sequence[Result]) -> Summary:
    return Summary(
        sum(r.status is Status.PASS for r in results),
        sum(r.status is Status.FAIL for r in results),
        sum(r.status is Status.SKIP for r in results),
    )


def summary_line(results: Sequence[Result], noun: str) -> str:
    s = summarize(results)
    return f"{s.total} {noun}: {s.passed} passed, {s.failed} failed, {s.skipped} skipped"


def check_line(result: Result) -> str:
    """``gc runtime check`` format."""
    line = f"{result.status.value:<4s} {result.title}"
    return f"{line}: {result.detail}" if result.detail else line


def requirement_line(result: Result) -> str:
    """``gc runtime conformance`` format."""
    line = f"{result.status.value:<4s} {result.code}  {result.title}"
    return f"{line} — {result.detail}" if result.detail else line


def render_text(executable: str, rows: Sequence[SuiteResult]) -> str:
    lines = [f"provider: {executable}"]
    for suite, (heading, noun) in SUITE_HEADINGS.items():
        results = [row.result for row in rows if row.suite == suite]
        if not results:
            continue
        lines += ["", f"{heading}:"]
        render = check_line if suite == "check" else requirement_line
        lines += [render(r) for r in results]
        lines += ["", summary_line(results, noun)]
    everything = [row.result for row in rows]
    lines += ["", "total: " + summary_line(everything, "checks")]
    return "\n".join(lines) + "\n"


def protocol_json(handshake: Handshake | None) -> dict[str, object]:
    if handshake is None or handshake.error:
        return {"version": 0}
    doc: dict[str, object] = {"version": handshake.version}
    if handshake.capabilities:
        doc["capabilities"] = list(handshake.capabilities)
    return doc


def render_json(executable: str, handshake: Handshake | None, rows: Sequence[SuiteResult]) -> str:
    results: list[dict[str, str]] = []
    for suite, result in rows:
        item = {
            "code": result.code,
            "suite": suite,
            "group": result.group,
            "title": result.title,
            "status": result.status.value,
        }
        if result.detail:
            item["detail"] = result.detail
        results.append(item)
    s = summarize([row.result for row in rows])
    doc = {
        "executable": executable,
        "protocol": protocol_json(handshake),
        "results": results,
        "summary": {"passed": s.passed, "failed": s.failed, "skipped": s.skipped},
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
