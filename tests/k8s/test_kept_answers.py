"""Through the helper, a session's tick costs one exec into its pod: is-running,
process-alive and get-last-activity read one pane listing that the helper keeps for a
moment. Nothing we change is ever answered from before the change, whatever transport
made it; what changes on its own shows within the kept time."""

from __future__ import annotations

import time
from typing import Any

import pytest
from k8s_helpers import K8s

from gc_session_k8s.naming import session_pod

TICK = [("is-running", b""), ("is-running", b""), ("process-alive", b"sleep"),
        ("get-last-activity", b"")]
#: Long enough that only an invalidation, never the clock, can explain a fresh answer.
FOREVER = {"GC_K8S_HELPER_CACHE_MS": "10000"}


def execs(k8s: K8s, since: int = 0) -> list[dict[str, Any]]:
    return [line for line in k8s.audit_lines()[since:] if line.get("argv", [""])[0] == "exec"]


def started(k8s: K8s) -> str:
    name = k8s.name()
    res = k8s.start(name, {"command": "sleep 300"})
    assert res.rc == 0, res.err
    return name


def test_a_sessions_tick_costs_one_exec_into_its_pod(k8s: K8s, helper: dict[str, str]) -> None:
    name = started(k8s)
    mark = len(k8s.audit_lines())
    # Kept for 10 s: on a loaded machine four op processes can take longer than the default.
    answers = [k8s.run(op, name, stdin=stdin, env=FOREVER) for op, stdin in TICK]
    assert [a.rc for a in answers] == [0, 0, 0, 0], [a.err for a in answers]
    assert [a.value for a in answers[:3]] == ["true", "true", "true"]
    assert answers[3].value.endswith("Z")
    lines = execs(k8s, mark)
    assert [(line["op"], bool(line.get("cached"))) for line in lines] == [
        ("is-running", False), ("is-running", True), ("process-alive", True),
        ("get-last-activity", True)]
    assert {line["transport"] for line in lines} == {"helper"}


def test_a_stop_is_seen_by_the_next_is_running_at_once(k8s: K8s, helper: dict[str, str]) -> None:
    name = started(k8s)
    assert k8s.run("is-running", name, env=FOREVER).value == "true"
    assert k8s.run("is-running", name, env=FOREVER).value == "true"  # kept
    assert k8s.run("stop", name).rc == 0
    assert k8s.run("is-running", name, env=FOREVER).value == "false"
    assert k8s.run("process-alive", name, stdin=b"sleep", env=FOREVER).value == "false"


def test_a_restart_is_seen_at_once(k8s: K8s, helper: dict[str, str]) -> None:
    name = started(k8s)
    before = k8s.run("get-meta", name, "GC_SESSION_ID").value
    assert k8s.run("is-running", name, env=FOREVER).value == "true"
    assert k8s.run("stop", name).rc == 0
    assert k8s.run("is-running", name, env=FOREVER).value == "false"  # kept: false
    assert k8s.start(name, {"command": "sleep 300"}).rc == 0
    assert k8s.run("is-running", name, env=FOREVER).value == "true"
    assert k8s.run("get-meta", name, "GC_SESSION_ID").value == before


@pytest.mark.parametrize("transport", ["kubectl", "direct", "helper"])
def test_a_change_made_through_any_transport_is_never_answered_from_before_it(
        k8s: K8s, helper: dict[str, str], transport: str) -> None:
    name = started(k8s)
    assert k8s.run("process-alive", name, stdin=b"sleep", env=FOREVER).value == "true"
    assert k8s.run("is-running", name, env=FOREVER).value == "true"  # kept
    # Our own op ends the agent (exec is a write): the pane dies, the session ends.
    res = k8s.run("exec", name, stdin=b"pkill -x sleep; sleep 0.3", env={"GC_K8S_TRANSPORT": transport})
    assert res.rc == 0, res.err
    assert k8s.run("is-running", name, env=FOREVER).value == "false"
    assert k8s.run("process-alive", name, stdin=b"sleep", env=FOREVER).value == "false"


def test_a_change_no_op_of_ours_made_shows_within_the_kept_time(k8s: K8s,
                                                                helper: dict[str, str]) -> None:
    name = started(k8s)
    kept = {"GC_K8S_HELPER_CACHE_MS": "500"}
    assert k8s.run("is-running", name, env=kept).value == "true"
    # Behind our back: kubectl by hand, not an op of ours, so nothing marks the pod.
    r = k8s.kubectl("exec", session_pod(name, ""), "-c", "agent", "--", "pkill", "-x", "sleep")
    assert r.returncode == 0, r.stderr
    time.sleep(0.6)
    assert k8s.run("is-running", name, env=kept).value == "false"


def test_a_write_between_two_reads_makes_the_second_read_run(k8s: K8s,
                                                             helper: dict[str, str]) -> None:
    name = started(k8s)
    first = k8s.run("get-last-activity", name, env=FOREVER).value
    time.sleep(1.1)  # activity is in whole seconds
    assert k8s.run("nudge", name, stdin=b"echo typed", env=FOREVER).rc == 0
    mark = len(k8s.audit_lines())
    later = k8s.run("get-last-activity", name, env=FOREVER).value
    assert later > first
    assert not any(line.get("cached") for line in execs(k8s, mark))


def test_a_kept_time_of_zero_keeps_nothing(k8s: K8s, helper: dict[str, str]) -> None:
    name = started(k8s)
    mark = len(k8s.audit_lines())
    for op, stdin in TICK:
        assert k8s.run(op, name, stdin=stdin, env={"GC_K8S_HELPER_CACHE_MS": "0"}).rc == 0
    lines = execs(k8s, mark)
    assert len(lines) == 4 and not any(line.get("cached") for line in lines)


def test_process_alive_reads_the_process_table_only_when_the_pane_does_not_answer(
        k8s: K8s, helper: dict[str, str]) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sh -c 'sleep 300; true'"}).rc == 0
    mark = len(k8s.audit_lines())
    assert k8s.run("process-alive", name, stdin=b"sh").value == "true"  # the pane's own command
    assert not any("ps" in " ".join(line["argv"]) for line in execs(k8s, mark))
    assert k8s.run("process-alive", name, stdin=b"sleep").value == "true"  # a child: the table
    assert k8s.run("process-alive", name, stdin=b"claude").value == "false"
    assert any("ps -A" in " ".join(line["argv"]) for line in execs(k8s, mark))


def test_the_helpers_status_counts_kept_answers(k8s: K8s, helper: dict[str, str]) -> None:
    name = started(k8s)
    for op, stdin in TICK:
        k8s.run(op, name, stdin=stdin, env=FOREVER)
    status = k8s.run("helper", "status")
    assert '"kept_answer_hits": 3' in status.out, status.out
