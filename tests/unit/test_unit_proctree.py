"""Process detection by exact names on the pane's tree, never by substring."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from providers.tmux.proctree import ListedProcesses, descendants, tree_has

# pid ppid comm / pid args: a tmux server whose argv mentions claude, a pane
# shell running node (claude's real process), and an unrelated python script.
COMM = """\
  1     0 tmux: server
 10     1 sh
 11    10 node
 12    11 2.0.76
 20     1 sh
 21    20 python3
 30     1 sh
"""
ARGS = """\
  1 tmux new-session -d -s main claude --model x
 10 sh -c claude
 11 node /usr/lib/node_modules/@anthropic-ai/claude-code/cli.js
 12 2.0.76
 20 sh
 21 python3 -u /opt/agent/runner.py --flag
 30 sh
"""


class Case(NamedTuple):
    test_id: str
    root: int
    names: list[str]
    expected: bool


CASES = [
    Case("comm-of-descendant", 10, ["node"], True),
    Case("node-script-stem", 10, ["cli"], True),
    Case("argv0-version-name", 10, ["2.0.76"], True),
    Case("server-argv-does-not-count", 30, ["claude"], False),
    Case("substring-does-not-count", 10, ["nod"], False),
    Case("python-script-stem", 20, ["runner"], True),
    Case("python-script-file-name-as-gc-matches-it", 20, ["runner.py"], True),
    Case("node-script-file-name", 10, ["cli.js"], True),
    Case("interpreter-name", 20, ["python3"], True),
    Case("empty-names", 10, [], False),
]


@pytest.mark.parametrize(list(Case._fields), CASES, ids=[c.test_id for c in CASES])
def test_tree_has(test_id: str, root: int, names: list[str], expected: bool) -> None:
    assert tree_has(ListedProcesses(COMM, ARGS), root, names) is expected


def test_descendants_are_deepest_first() -> None:
    assert descendants(ListedProcesses(COMM, ARGS), [10]) == [12, 11]


def test_long_names_match_truncated_comm() -> None:
    procs = ListedProcesses("5 1 averyveryverylo\n", "5 x\n")
    assert tree_has(procs, 5, ["averyveryverylongname"])
