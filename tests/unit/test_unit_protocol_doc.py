"""protocol/PROTOCOL.md's operation table is kept in sync with the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "protocol" / "PROTOCOL.md"
EXECUTABLES = {"gc-session-tmux": "providers.gc_session_tmux.cli", "gc-session-k8s": "gc_session_k8s.cli"}


def doc_table() -> tuple[list[str], dict[str, dict[str, str]], dict[str, str]]:
    """(columns, {operation: {column: cell}}, {operation: invocation})."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| operation |"))
    columns = [c.strip() for c in lines[start].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    invocations: dict[str, str] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        op = cells[0].strip("`")
        rows[op] = dict(zip(columns, cells, strict=True))
        invocations[op] = cells[1].strip("`")
    return columns, rows, invocations


@pytest.mark.parametrize("exe", sorted(EXECUTABLES))
def test_operation_table_matches_the_dispatch_table(exe: str) -> None:
    module = importlib.import_module(EXECUTABLES[exe])
    table = module.OPERATIONS
    protocol_ops = {op for op, spec in table.items() if not spec.human}
    columns, rows, invocations = doc_table()
    assert exe in columns
    documented_yes = {op for op, row in rows.items() if row[exe] == "yes"}
    documented_two = {op for op, row in rows.items() if row[exe] == "2"}
    assert protocol_ops == documented_yes
    assert not documented_two & set(table)
    for op in protocol_ops:
        spec = table[op]
        expected = " ".join([op, *(f"<{a.lstrip('*').replace('_', '-')}>" + ("..." if a.startswith("*") else "")
                                   for a in spec.args)])
        assert re.sub(r"\s+", " ", invocations[op]) == expected, op


BEADS_DOC = DOC.parent / "BEADS.md"


def test_beads_operation_table_matches_gc_beads_k8s() -> None:
    from gc_beads_k8s.cli import TABLE
    from protocol.dispatch import usage_of

    lines = BEADS_DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| operation |"))
    documented: dict[str, str] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        documented[cells[0].strip("`")] = cells[1].strip("`")
    assert set(documented) == set(TABLE)
    for op, spec in TABLE.items():
        # `[<database>]` in the doc: init's optional trailing argument (typer-parsed, human).
        usage = usage_of(spec.args).replace("<database>...", "[<database>]")
        assert documented[op] == f"{op} {usage}".rstrip(), op
