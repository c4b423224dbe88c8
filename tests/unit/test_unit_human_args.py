"""`protocol.human`: the operators' commands parse by hand, exit 1 on bad usage, never 2."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from protocol.errors import UsageError
from protocol.human import Command, Flag, parse

INIT = Command("x init", ("dir", "prefix", "?database"), (Flag("--quiet", "-q", "quiet"),), "Init.")


class Case(NamedTuple):
    argv: list[str]
    flags: frozenset[str]
    args: list[str]


PARSES = [
    Case(["d", "p"], frozenset(), ["d", "p"]),
    Case(["d", "p", "db"], frozenset(), ["d", "p", "db"]),
    Case(["-q", "d", "p"], frozenset({"--quiet"}), ["d", "p"]),
    Case(["d", "--quiet", "p"], frozenset({"--quiet"}), ["d", "p"]),
    Case(["--", "-d", "p"], frozenset(), ["-d", "p"]),
]


@pytest.mark.parametrize("case", PARSES, ids=[" ".join(c.argv) for c in PARSES])
def test_flags_and_positionals_parse_in_any_order(case: Case) -> None:
    parsed = parse(INIT, case.argv)
    assert parsed is not None
    assert (parsed.flags, parsed.args) == (case.flags, case.args)


BAD = [["d"], ["d", "p", "db", "extra"], ["--bogus", "d", "p"], ["-x"], []]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) or "none" for a in BAD])
def test_bad_usage_is_a_usage_error_naming_the_synopsis(argv: list[str]) -> None:
    with pytest.raises(UsageError, match=r"usage: x init \[--quiet\] <dir> <prefix> \[<database>\]"):
        parse(INIT, argv)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_prints_the_synopsis_and_returns_none(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse(INIT, ["d", flag]) is None
    out = capsys.readouterr().out
    assert out.startswith("usage: x init [--quiet] <dir> <prefix> [<database>]\n")
    assert "-q, --quiet" in out
