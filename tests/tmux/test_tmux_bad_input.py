"""Bad input in every op of gc-session-tmux is one clear line, never an internal error:
a closed stdin (process-alive then answers ``false``), NUL bytes, JSON of the wrong types."""

from __future__ import annotations

import pytest
from bad_input import NUL_CONFIGS, SESSION_OPS, WRONG_TYPES, clear, config_bytes, run_closed_stdin
from helpers import Provider, Start


@pytest.mark.parametrize(("op", "args", "reads"), SESSION_OPS, ids=[o[0] for o in SESSION_OPS])
def test_a_closed_stdin_is_a_clear_line_in_every_op(tmux_provider: Provider, start: Start,
                                                    op: str, args: list[str],
                                                    reads: bool) -> None:
    name = start({"command": "cat"})
    for target in (name, "no-such-session"):
        res = run_closed_stdin([*tmux_provider.argv, op, target, *args], tmux_provider.env)
        assert clear(res), (op, target, res)
        if reads and op != "process-alive":
            assert (res.rc, res.err.count("stdin is closed")) == (1, 1), (op, res)
        else:
            assert res.rc in (0, 1), (op, res)
    assert tmux_provider.ok("is-running", name) in ("true", "false")


def test_process_alive_with_a_closed_stdin_is_false(tmux_provider: Provider,
                                                    start: Start) -> None:
    name = start({"command": "cat"})
    res = run_closed_stdin([*tmux_provider.argv, "process-alive", name], tmux_provider.env)
    assert (res.rc, res.out, res.err) == (0, "false\n", "")


@pytest.mark.parametrize("op", ["list-running", "protocol"])
def test_an_op_without_a_name_with_a_closed_stdin_answers(tmux_provider: Provider,
                                                           op: str) -> None:
    res = run_closed_stdin([*tmux_provider.argv, op, *([""] if op == "list-running" else [])],
                           tmux_provider.env)
    assert res.rc == 0 and clear(res), res


@pytest.mark.parametrize("cfg", NUL_CONFIGS, ids=[str(c) for c in NUL_CONFIGS])
def test_a_nul_byte_in_any_start_field_is_a_clear_line_and_nothing_starts(
        tmux_provider: Provider, cfg: dict[str, object]) -> None:
    res = tmux_provider.run("start", "nul-start", stdin=config_bytes(cfg))
    assert res.rc == 1 and clear(res) and "NUL" in res.err, res
    assert tmux_provider.ok("is-running", "nul-start") == "false"


@pytest.mark.parametrize("cfg", WRONG_TYPES, ids=[str(c) for c in WRONG_TYPES])
def test_a_start_config_of_the_wrong_types_is_a_clear_line(tmux_provider: Provider,
                                                           cfg: object) -> None:
    res = tmux_provider.run("start", "typed-start", stdin=config_bytes(cfg))
    if cfg is None:  # JSON null: not an object
        assert res.rc == 1 and clear(res), res
    else:
        assert res.rc == 1 and clear(res) and res.err.count("\n") == 1, res
    assert tmux_provider.ok("is-running", "typed-start") == "false"


@pytest.mark.parametrize(("op", "args"), [("nudge", []), ("set-meta", ["K"]),
                                          ("process-alive", [])])
def test_a_nul_byte_on_stdin_is_a_clear_line(tmux_provider: Provider, start: Start, op: str,
                                             args: list[str]) -> None:
    name = start({"command": "cat"})
    res = tmux_provider.run(op, name, *args, stdin=b"a\0b")
    assert res.rc in (0, 1) and clear(res), res
    if op == "set-meta":
        assert res.rc == 1 and "NUL" in res.err
