"""Bad input in every op of gc-session-k8s is one clear line, never an internal error:
a closed stdin (process-alive then answers ``false``), NUL bytes in start fields and in
exec commands, JSON of the wrong types. Through the kubectl door (the conftest default)
and the helper's quickest path."""

from __future__ import annotations

from bad_input import NUL_CONFIGS, SESSION_OPS, WRONG_TYPES, clear, config_bytes, run_closed_stdin
from k8s_helpers import K8s

K8S_OPS = [*SESSION_OPS, ("exec", [], True), ("provision", [], True), ("proc-stream", [], True)]




def test_a_closed_stdin_is_a_clear_line_in_every_op(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    for op, args, reads in K8S_OPS:
        for target in (name, "no-such-session"):
            if op in ("start", "provision", "stop") and target == name:
                continue  # keep the session for the other ops
            res = run_closed_stdin([*k8s.argv, op, target, *args], k8s.env)
            assert clear(res), (op, target, res)
            if reads and op != "process-alive":
                assert res.rc == 1 and "stdin is closed" in res.err, (op, res)
            else:
                assert res.rc in (0, 1), (op, res)
    res = run_closed_stdin([*k8s.argv, "process-alive", name], k8s.env)
    assert (res.rc, res.out, res.err) == (0, "false\n", "")


def test_process_alive_with_a_closed_stdin_is_false_through_the_helper(
        k8s: K8s, helper: dict[str, str]) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    res = run_closed_stdin([*k8s.argv, "process-alive", name], k8s.env)
    assert (res.rc, res.out, res.err) == (0, "false\n", "")
    res = run_closed_stdin([*k8s.argv, "is-running", name], k8s.env)
    assert (res.rc, res.out, res.err) == (0, "true\n", "")


def test_a_nul_byte_in_start_fields_and_exec_commands_is_a_clear_line(k8s: K8s) -> None:
    for cfg in NUL_CONFIGS:
        name = k8s.name()
        res = k8s.start(name, cfg)  # type: ignore[arg-type]
        assert res.rc == 1 and clear(res) and "NUL" in res.err, (cfg, res)
    assert k8s.pods() == []
    name = k8s.name()
    assert k8s.start(name).rc == 0
    res = k8s.run("exec", name, stdin=b"echo a\0b")
    assert res.rc == 1 and clear(res) and "NUL" in res.err, res
    res = k8s.run("set-meta", name, "K", stdin=b"a\0b")
    assert res.rc == 1 and clear(res) and "NUL" in res.err, res
    for op, stdin in (("nudge", b"a\0b"), ("process-alive", b"sle\0ep")):
        res = k8s.run(op, name, stdin=stdin)
        assert res.rc in (0, 1) and clear(res), (op, res)


def test_a_start_config_of_the_wrong_types_is_a_clear_line(k8s: K8s) -> None:
    for cfg in WRONG_TYPES:
        name = k8s.name()
        res = k8s.run("start", name, stdin=config_bytes(cfg))
        assert res.rc == 1 and clear(res), (cfg, res)
    assert k8s.pods() == []
