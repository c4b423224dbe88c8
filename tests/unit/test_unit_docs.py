"""The README and docs/ stay readable and honest.

* README.md is for users: at most 300 lines, the rest lives in docs/.
* No HTML entity inside code (spans or fenced blocks) in any Markdown file:
  GitHub and PyPI show ``&lt;`` there literally.
* Every shell command in a fenced ``sh``/``bash``/``console`` block of the README
  or docs/ is either run by a test (`RUN_BY_TESTS` names the test file and what
  in it runs the command) or marked with a comment saying what it needs that
  the tests do not have (``# needs a real cluster``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
SHELL_LANGS = frozenset({"sh", "bash", "console", "shell"})
#: A command no test runs says why, in a comment: ``# needs a real cluster``.
MARKER = re.compile(r"#.*\bneeds\b")
FENCE = re.compile(r"^(`{3,}|~{3,})([\w-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
ENTITY = re.compile(r"&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")


class Run(NamedTuple):
    """A command shape some test runs: ``pattern`` (on the command without its comment
    and leading ``VAR=value`` assignments) matches it; ``test`` holds every ``needles``."""

    pattern: str
    test: str
    needles: tuple[str, ...]


RUN_BY_TESTS = (
    Run(r"make demo", "tests/tmux/test_tmux_demo.py", ("examples", "demo.py")),
    Run(r"make test", ".ci/run", ("make test",)),  # CI runs it on every change
    Run(r"make realkube-tests", "Makefile", ("realkube-tests:",)),  # part of `make test`
    Run(r"make check", "Makefile", ("check: setup lint fast-tests",)),  # a subset of `make test`
    Run(r"pip install \.", "tests/install/test_install_layouts.py", ('"pip"', '"install"')),
    Run(r"gc-session-tmux doctor", "tests/tmux/test_tmux_doctor.py", ('"doctor"',)),
    Run(r"gc-session-k8s doctor", "tests/k8s/test_doctor.py", ('"doctor"',)),
    Run(r"gc-beads-k8s doctor", "tests/beads/test_beads_doctor_json.py", ('"doctor"',)),
    Run(r'gc-provider-conformance (\./my-provider|"\$\(command -v my-provider\)")( --json| --only \S+| --env \S+)*',
        "tests/conformance/test_conformance_cli.py", ('"--json"', '"--only"', '"--env"')),
    # The same suite through the kit's own entry point (`run(..., beads=True)`).
    Run(r"gc-provider-conformance \./my-beads-runner --beads",
        "tests/conformance/test_conformance_beads_suite.py", ("beads=True",)),
    Run(r"pytest --gc-provider=\./my-provider( -k \w+)?",
        "tests/conformance/test_conformance_plugin_collection.py", ("--gc-provider", '"-k"')),
    Run(r"python -m protocol\.conformance\.fakekube --kubeconfig \S+ --create-namespace \w+ &",
        "tests/fakekube/test_fakekube_lifecycle.py", ('"-m", "protocol.conformance.fakekube"', '"--create-namespace"')),
)


def markdown_files() -> list[Path]:
    skip = {".git", "node_modules", "dist", "build"}
    return sorted(p for p in REPO.rglob("*.md")
                  if not any(part in skip or part.startswith(".") for part in p.relative_to(REPO).parts))


def user_docs() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


class Command(NamedTuple):
    doc: str
    text: str
    marked: bool


def shell_commands(text: str, doc: str) -> list[Command]:
    """Each command of each fenced shell block (``\\``-continued lines joined; in
    ``console`` blocks only ``$ `` lines); a marker on a block's first line marks it all."""
    found = []
    for fence in FENCE.finditer(text):
        if fence.group(2) not in SHELL_LANGS:
            continue
        lines = fence.group(3).splitlines()
        if fence.group(2) == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        block_marked = bool(lines) and lines[0].lstrip().startswith("#") and bool(MARKER.search(lines[0]))
        pending = ""
        for line in lines:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            command, pending = pending + line, ""
            if command.strip() and not command.lstrip().startswith("#"):
                found.append(Command(doc, command.strip(), block_marked or bool(MARKER.search(command))))
    return found


def bare(command: str) -> str:
    """The command without its comment and leading ``VAR=value`` assignments, spaces collapsed."""
    command = re.sub(r"\s+#.*$", "", command)
    command = re.sub(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+", "", command)
    return " ".join(command.split())


def all_commands() -> list[Command]:
    return [c for path in user_docs() for c in shell_commands(path.read_text(), path.relative_to(REPO).as_posix())]


def test_the_readme_is_at_most_300_lines() -> None:
    assert len(README.read_text().splitlines()) <= 300


def test_every_relative_link_in_the_readme_and_docs_leads_to_a_file() -> None:
    broken = [f"{doc.relative_to(REPO)}: {link}" for doc in user_docs()
              for link in re.findall(r"\]\((?!https?:|#)([^)#\s]+)", doc.read_text())
              if not (doc.parent / link).exists()]
    assert broken == []
    assert re.search(r"\]\(docs/reference\.md\)", README.read_text())


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_html_entity_inside_code(path: Path) -> None:
    text = path.read_text()
    in_code = [m.group(0) for fence in FENCE.finditer(text) for m in ENTITY.finditer(fence.group(3))]
    prose = FENCE.sub("", text)
    in_code += [span.group(0) for span in CODE_SPAN.finditer(prose) if ENTITY.search(span.group(2))]
    assert in_code == []


def test_every_shell_command_in_the_docs_is_run_by_a_test_or_marked() -> None:
    unaccounted = [f"{c.doc}: {c.text}" for c in all_commands()
                   if not c.marked and not bare(c.text).startswith("export ")
                   and not any(re.fullmatch(run.pattern, bare(c.text)) for run in RUN_BY_TESTS)]
    assert unaccounted == []


@pytest.mark.parametrize("run", RUN_BY_TESTS, ids=[r.pattern for r in RUN_BY_TESTS])
def test_each_allowed_command_is_in_the_docs_and_its_test_runs_it(run: Run) -> None:
    assert any(re.fullmatch(run.pattern, bare(c.text)) for c in all_commands()), "stale entry: no doc runs it"
    test = (REPO / run.test).read_text()
    assert [needle for needle in run.needles if needle not in test] == []


def test_commands_are_found_in_every_kind_of_block() -> None:
    text = ("```sh\nmake demo  # a comment\n# only a comment\nfoo \\\n  --bar\n```\n"
            "```console\n$ kubectl get pods  # needs a real cluster\nNAME READY\n```\n"
            "```sh\n# needs Go\nmake x\n```\n```toml\n[x]\n```\n")
    assert shell_commands(text, "d") == [
        Command("d", "make demo  # a comment", False), Command("d", "foo    --bar", False),
        Command("d", "kubectl get pods  # needs a real cluster", True), Command("d", "make x", True)]
    assert bare("GC_BIN=/x KUBECONFIG=y make  real-gc-tests   # builds") == "make real-gc-tests"
