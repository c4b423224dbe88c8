"""Exit-code discipline: 2 only for an unknown operation, usage errors exit 1."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from protocol import names
from protocol.dispatch import Call, Operation, run
from protocol.errors import ExitWith, ProviderError, TemporaryError


def echo(call: Call) -> str:
    return call["name"]


def crash(call: Call) -> str:
    raise ZeroDivisionError("boom")


TABLE = {
    "is-running": Operation(echo),
    "peek": Operation(echo, ("name", "lines")),
    "send-keys": Operation(lambda c: " ".join(c.rest), ("name", "*key")),
    "fail": Operation(lambda c: (_ for _ in ()).throw(ProviderError("it\nbroke"))),
    "start": Operation(lambda c: (_ for _ in ()).throw(TemporaryError("quota"))),
    "stop": Operation(lambda c: (_ for _ in ()).throw(TemporaryError("quota"))),
    "exec": Operation(lambda c: (_ for _ in ()).throw(ExitWith(7))),
    "crash": Operation(crash),
    "list-by-label": Operation(lambda c: f"{c['label']}|{c['limit']}", ("label", "?limit")),
    "ready": Operation(lambda c: ",".join(c.rest), ("?*flag",)),
}
VALIDATORS = {"name": names.session_name, "lines": names.line_count, "*key": names.key_name,
              "limit": names.line_count}


class Case(NamedTuple):
    test_id: str
    argv: list[str]
    code: int


CASES = [
    Case("ok", ["is-running", "s1"], 0),
    Case("unknown-op-is-2", ["no-such-op", "x"], 2),
    Case("unknown-op-without-name-is-2", ["check-image"], 2),
    Case("no-op-at-all-is-usage", [], 1),
    Case("missing-name", ["is-running"], 1),
    Case("too-many-args", ["is-running", "a", "b"], 1),
    Case("name-starting-with-dash", ["is-running", "-x"], 1),
    Case("hostile-name", ["is-running", "$(touch /tmp/x)"], 1),
    Case("bad-number", ["peek", "s", "ten"], 1),
    Case("negative-number-ok", ["peek", "s", "-1"], 0),
    Case("variadic-needs-one", ["send-keys", "s"], 1),
    Case("key-that-looks-like-flag", ["send-keys", "s", "-X"], 1),
    Case("provider-error", ["fail", "s"], 1),
    Case("temporary-on-start-is-75", ["start", "s"], 75),
    Case("temporary-elsewhere-is-1", ["stop", "s"], 1),
    Case("exec-passes-code-through", ["exec", "s"], 7),
    Case("internal-error-is-1", ["crash", "s"], 1),
    Case("optional-absent", ["list-by-label", "l"], 0),
    Case("optional-present", ["list-by-label", "l", "5"], 0),
    Case("optional-bad-number", ["list-by-label", "l", "x"], 1),
    Case("optional-too-many", ["list-by-label", "l", "5", "6"], 1),
    Case("zero-or-more-none", ["ready"], 0),
    Case("zero-or-more-some", ["ready", "--include-ephemeral"], 0),
]


@pytest.mark.parametrize(list(Case._fields), CASES, ids=[c.test_id for c in CASES])
def test_exit_codes(test_id: str, argv: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("exe", TABLE, VALIDATORS, argv) == code
    err = capsys.readouterr().err
    if code in (1, 2, 75):
        assert err.count("\n") == 1, "failures print exactly one stderr line"


def test_success_prints_value_with_one_newline(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("exe", TABLE, VALIDATORS, ["is-running", "abc"]) == 0
    assert capsys.readouterr().out == "abc\n"


def test_unknown_operation_prints_nothing_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    run("exe", TABLE, VALIDATORS, ["bogus"])
    assert capsys.readouterr().out == ""


def test_multiline_error_is_collapsed_to_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    run("exe", TABLE, VALIDATORS, ["fail", "s"])
    assert capsys.readouterr().err == "exe fail: it broke\n"


def test_help_lists_every_operation(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("exe", TABLE, VALIDATORS, ["--help"]) == 0
    out = capsys.readouterr().out
    assert all(op in out for op in TABLE)


def test_optional_arguments_bind_to_empty_when_absent(capsys: pytest.CaptureFixture[str]) -> None:
    run("exe", TABLE, VALIDATORS, ["list-by-label", "bug"])
    run("exe", TABLE, VALIDATORS, ["list-by-label", "bug", "7"])
    assert capsys.readouterr().out == "bug|\nbug|7\n"


def test_usage_shows_optional_and_repeated_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    run("exe", TABLE, VALIDATORS, ["list-by-label"])
    assert "usage: list-by-label <label> [<limit>]" in capsys.readouterr().err
