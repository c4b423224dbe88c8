"""Text and JSON reports, in the shapes of upstream's checkers.

Text: the ``check`` suite prints like ``gc runtime check`` (``%-4s %s`` and
``: detail``); every other suite prints like ``gc runtime conformance``
(``%-4s %s  %s`` and `` — detail``). Each suite ends with a blank line and
``N <noun>: P passed, F failed, S skipped``.

JSON: one indented document shaped like ``gc runtime conformance --json``
(``executable``, ``protocol``, ``results``, ``summary``), each result with the
extra keys ``suite`` and ``duration_s`` (and ``hint`` when it FAILed);
``detail`` and ``capabilities`` are omitted when empty. The document also
carries ``schema_version`` (this layout; bumped on any incompatible change),
``kit`` (name and version) and ``interrupted``.

Colour (status words only) is for terminals: callers pass ``color`` from
`use_color`, which is false off a TTY and whenever ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from typing import IO, NamedTuple

import orjson

from protocol.conformance.context import Handshake
from protocol.conformance.hints import hint
from protocol.conformance.model import Result, Status

#: The JSON layout's version: 1 added schema_version, kit, interrupted, duration_s and hint.
SCHEMA_VERSION = 1
KIT = "gc-provider-conformance"
_COLORS = {Status.PASS: "32", Status.FAIL: "1;31", Status.SKIP: "33"}

SUITE_HEADINGS = {
    "check": ("gc runtime check", "checks"),
    "rpp": ("gc runtime conformance", "requirements"),
    "runtimetest": ("runtimetest (upstream provider suite)", "checks"),
    "strict": ("strict checks", "checks"),
    "env": ("environment capabilities (gc runtime conformance --env)", "capabilities"),
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


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def status_word(status: Status, color: bool = False) -> str:
    word = f"{status.value:<4s}"
    return f"\x1b[{_COLORS[status]}m{word}\x1b[0m" if color else word


def shown_detail(detail: str, verbose: bool = False) -> str:
    """A detail on a terminal: its whole first line, and a note of how many lines follow.

    Nothing is cut within a line; ``verbose`` shows every line (indented).
    """
    first, _, rest = detail.partition("\n")
    if not rest:
        return detail
    if verbose:
        return first + "".join(f"\n      {line}" for line in rest.split("\n"))
    more = rest.count("\n") + 1
    return f"{first} [+{more} more line{'s' if more > 1 else ''}: --verbose or --json shows all]"


def check_line(result: Result, color: bool = False, verbose: bool = False) -> str:
    """``gc runtime check`` format."""
    line = f"{status_word(result.status, color)} {result.title}"
    return f"{line}: {shown_detail(result.detail, verbose)}" if result.detail else line


def requirement_line(result: Result, color: bool = False, verbose: bool = False) -> str:
    """``gc runtime conformance`` format."""
    line = f"{status_word(result.status, color)} {result.code}  {result.title}"
    return f"{line} — {shown_detail(result.detail, verbose)}" if result.detail else line


def progress_line(done: int, total: int, row: SuiteResult, seconds: float, color: bool = False,
                  width: int = 100) -> str:
    """One live line per finished check: ``[ 3/78] PASS CODE  title (1.2s)``, FAIL with its detail.

    A FAIL's detail is shown up to its first line break, never cut (``width``
    is kept for callers; the terminal wraps a long line).
    """
    result = row.result
    line = f"[{done:>{len(str(total))}}/{total}] {status_word(result.status, color)} {result.code}  {result.title}"
    line += f" ({seconds:.1f}s)"
    if result.status is Status.FAIL and result.detail:
        line += f" — {shown_detail(result.detail)}"
    return line


def render_text(executable: str, rows: Sequence[SuiteResult], color: bool = False, verbose: bool = False) -> str:
    lines = [f"provider: {executable}"]
    for suite, (heading, noun) in SUITE_HEADINGS.items():
        results = [row.result for row in rows if row.suite == suite]
        if not results:
            continue
        lines += ["", f"{heading}:"]
        render = check_line if suite == "check" else requirement_line
        lines += [render(r, color, verbose) for r in results]
        lines += ["", summary_line(results, noun)]
    everything = [row.result for row in rows]
    lines += ["", "total: " + summary_line(everything, "checks")]
    return "\n".join(lines) + "\n"


def rerun_command(executable: str, codes: Sequence[str], *, env: Mapping[str, str] | None = None,
                  beads: bool = False, extra: Sequence[str] = ()) -> str:
    """The command line that runs just ``codes`` again, with the same target and environment."""
    words = [KIT, executable]
    if beads:
        words.append("--beads")
    for key, value in (env or {}).items():
        words += ["--env", f"{key}={value}"]
    words += extra
    if len(codes) > RERUN_ONLY_MAX:
        words.append("--last-failed")
    else:
        for code in codes:
            words += ["--only", code]
    return " ".join(shlex.quote(w) for w in words)


#: More failed checks than this are rerun with ``--last-failed`` rather than one ``--only`` each.
RERUN_ONLY_MAX = 3


def render_failures(rows: Sequence[SuiteResult], rerun: str, color: bool = False) -> str:
    """The closing list: each FAILed ID with its usual fix, then the command to rerun them ('' if none)."""
    failed = [row.result for row in rows if row.result.status is Status.FAIL]
    if not failed:
        return ""
    width = max(len(r.code) for r in failed)
    lines = ["", f"{len(failed)} failed:"]
    for result in failed:
        fix = hint(result.code, result.detail)
        lines.append(f"  {status_word(Status.FAIL, color)} {result.code:<{width}}" + (f"  fix: {fix}" if fix else ""))
    lines += ["", "rerun just these:", f"  {rerun}"]
    return "\n".join(lines) + "\n"


def protocol_json(handshake: Handshake | None) -> dict[str, object]:
    if handshake is None or handshake.error:
        return {"version": 0}
    doc: dict[str, object] = {"version": handshake.version}
    if handshake.capabilities:
        doc["capabilities"] = list(handshake.capabilities)
    return doc


def render_json(executable: str, handshake: Handshake | None, rows: Sequence[SuiteResult],
                durations: Mapping[str, float] | None = None, *, kit_version: str = "",
                interrupted: bool = False, preflight: str = "",
                unstopped: Sequence[tuple[str, str]] = ()) -> str:
    durations = durations or {}
    results: list[dict[str, object]] = []
    for suite, result in rows:
        item: dict[str, object] = {
            "code": result.code,
            "suite": suite,
            "group": result.group,
            "title": result.title,
            "status": result.status.value,
        }
        if result.detail:
            item["detail"] = result.detail
        if result.status is Status.FAIL and hint(result.code, result.detail):
            item["hint"] = hint(result.code, result.detail)
        item["duration_s"] = round(durations.get(result.code, 0.0), 3)
        results.append(item)
    s = summarize([row.result for row in rows])
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kit": {"name": KIT, "version": kit_version or "unknown"},
        "executable": executable,
        "protocol": protocol_json(handshake),
        "interrupted": interrupted,
        "results": results,
        "summary": {"passed": s.passed, "failed": s.failed, "skipped": s.skipped},
    }
    if preflight:
        doc["preflight"] = {"status": "FAIL", "detail": preflight, "hint": hint("", preflight)}
    if unstopped:
        doc["unstopped"] = [{"name": name, "detail": said} for name, said in unstopped]
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def render_junit(executable: str, rows: Sequence[SuiteResult], durations: Mapping[str, float] | None = None,
                 preflight: str = "") -> bytes:
    """JUnit XML: one ``testsuite`` per suite, one ``testcase`` per check ID (details whole)."""
    from xml.etree import ElementTree as ET

    durations = durations or {}
    clean = _xml_text
    root = ET.Element("testsuites", name=KIT)
    if preflight:
        suite_el = ET.SubElement(root, "testsuite", name="preflight", tests="1", failures="1", errors="0",
                                 skipped="0")
        case = ET.SubElement(suite_el, "testcase", classname="preflight", name="start")
        ET.SubElement(case, "failure", message=clean(preflight.partition("\n")[0])).text = clean(preflight)
    for suite in SUITE_HEADINGS:
        results = [row.result for row in rows if row.suite == suite]
        if not results:
            continue
        s = summarize(results)
        total_time = sum(durations.get(r.code, 0.0) for r in results)
        suite_el = ET.SubElement(root, "testsuite", name=suite, tests=str(s.total), failures=str(s.failed),
                                 errors="0", skipped=str(s.skipped), time=f"{total_time:.3f}")
        ET.SubElement(ET.SubElement(suite_el, "properties"), "property", name="executable", value=clean(executable))
        for result in results:
            case = ET.SubElement(suite_el, "testcase", classname=f"{suite}.{result.group}", name=result.code,
                                 time=f"{durations.get(result.code, 0.0):.3f}")
            if result.status is Status.FAIL:
                fix = hint(result.code, result.detail)
                failure = ET.SubElement(case, "failure", message=clean(result.detail.partition("\n")[0]))
                failure.text = clean(result.detail + (f"\nfix: {fix}" if fix else ""))
            elif result.status is Status.SKIP:
                ET.SubElement(case, "skipped", message=clean(result.detail))
            ET.SubElement(case, "system-out").text = result.title
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold written as ``\\xNN`` (all else kept)."""
    return "".join(c if c in "\t\n\r" or ("\x20" <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
                   or c >= "\U00010000" else f"\\x{ord(c):02x}" for c in text)
