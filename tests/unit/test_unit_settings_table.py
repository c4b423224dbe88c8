"""README.md's and ARCHITECTURE.md's settings tables are generated from the executables' settings tables.

Each executable declares its settings once (`protocol.settings` rows in its settings
module); README.md lists every setting with what it sets, its default and which
executables read it, ARCHITECTURE.md which module declares it and its kind. Both are
copies between ``<!-- settings:<doc> -->`` markers; run this file with ``--write`` to
refresh them after changing a setting.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.settings import Setting

REPO = Path(__file__).resolve().parents[2]
#: Each executable and the module holding its settings table (``TABLE``).
EXECUTABLES = {"gc-session-tmux": "providers.gc_session_tmux.settings",
               "gc-session-k8s": "gc_session_k8s.settings", "gc-beads-k8s": "gc_beads_k8s.settings"}
#: The modules that declare rows, most shared first: a row belongs to the first holding it.
DECLARING = ("protocol.settings", "providers.kube.settings", *EXECUTABLES.values())
END = "<!-- /settings -->"


def tables() -> dict[str, dict[str, Setting]]:
    return {exe: importlib.import_module(module).TABLE for exe, module in EXECUTABLES.items()}


def every_setting() -> dict[str, tuple[Setting, list[str]]]:
    """Each setting's first row (in executable order) and the executables that read it."""
    found: dict[str, tuple[Setting, list[str]]] = {}
    for exe, table in tables().items():
        for name, row in table.items():
            found.setdefault(name, (row, []))[1].append(exe)
    return found


def declared_in() -> dict[str, str]:
    """Setting name -> the module whose module-level row declares it."""
    from protocol.settings import Setting

    owner: dict[str, str] = {}
    for module in DECLARING:
        for value in vars(importlib.import_module(module)).values():
            if isinstance(value, Setting):
                owner.setdefault(value.name, module)
    return owner


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def readme_block() -> str:
    lines = ["<!-- settings:README (generated: python tests/unit/test_unit_settings_table.py --write) -->",
             "", "| setting | what it sets | default | read by |", "|---|---|---|---|"]
    for name, (row, exes) in every_setting().items():
        lines.append(f"| {code(name)} | {cell(row.help)} | {code(row.default_text)} | {', '.join(exes)} |")
    return "\n".join([*lines, "", END])


def architecture_block() -> str:
    owner = declared_in()
    lines = ["<!-- settings:ARCHITECTURE (generated: python tests/unit/test_unit_settings_table.py --write) -->",
             "", "| setting | declared in | kind | valid values | read by |", "|---|---|---|---|---|"]
    for name, (row, exes) in every_setting().items():
        lines.append(f"| {code(name)} | `{owner[name]}` | {row.kind} | {cell(row.valid() or 'any')} | "
                     f"{', '.join(e.removeprefix('gc-') for e in exes)} |")
    return "\n".join([*lines, "", END])


DOCS = {"README.md": readme_block, "ARCHITECTURE.md": architecture_block}


def doc_block(text: str, doc: str) -> str:
    start = text.index(f"<!-- settings:{doc.removesuffix('.md')} ")
    return text[start:text.index(END, start) + len(END)]


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_docs_settings_table_is_the_codes(doc: str) -> None:
    assert doc_block((REPO / doc).read_text(), doc) == DOCS[doc](), (
        f"{doc} out of date: run python tests/unit/test_unit_settings_table.py --write")


def test_every_row_is_declared_once_at_module_level() -> None:
    # `Setting.but` rewords a shared row for one executable; the row itself lives in one module.
    owner = declared_in()
    assert {name for table in tables().values() for name in table} - set(owner) == set()


def test_a_setting_two_executables_read_has_one_kind_and_default() -> None:
    rows: dict[str, Setting] = {}
    for table in tables().values():
        for name, row in table.items():
            first = rows.setdefault(name, row)
            assert (first.kind, first.default, first.choices) == (row.kind, row.default, row.choices)


def test_every_default_is_valid() -> None:
    for table in tables().values():
        assert [row.name for row in table.values() if row.default and row.problem(row.default)] == []


def test_the_settings_modules_are_plain_data() -> None:
    # Hot ops import them: nothing but the standard library's os and our protocol.
    import subprocess

    code_ = ("import sys; import providers.gc_session_tmux.settings, gc_session_k8s.settings, "
             "gc_beads_k8s.settings; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] "
             "in ('typing', 're', 'dataclasses', 'enum', 'typer', 'kubernetes', 'json', 'orjson'))))")
    out = subprocess.run([sys.executable, "-c", code_], capture_output=True, text=True, check=True,
                         cwd=REPO, timeout=60).stdout
    assert out.strip() == ""


def test_the_transport_choices_are_the_exec_seams_orders() -> None:
    from providers.kube import pod_exec
    from providers.kube.settings import TRANSPORT

    assert set(TRANSPORT.choices) == set(pod_exec.ORDERS)
    assert TRANSPORT.default == pod_exec.DEFAULT_TRANSPORT


def write() -> None:
    for doc, block in DOCS.items():
        path = REPO / doc
        text = path.read_text()
        path.write_text(text.replace(doc_block(text, doc), block()))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    if sys.argv[1:] == ["--write"]:
        write()
