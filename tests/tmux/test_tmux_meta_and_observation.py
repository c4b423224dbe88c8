"""Meta, peek, activity, keys and copy-to on a live session."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from helpers import Provider, Start, wait_for

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_meta_round_trip_overwrite_and_remove(tmux_provider: Provider, start: Start) -> None:
    name = start()
    tmux_provider.ok("set-meta", name, "test-key", stdin="v1")
    tmux_provider.ok("set-meta", name, "test-key", stdin="v2")
    assert tmux_provider.ok("get-meta", name, "test-key") == "v2"
    tmux_provider.ok("remove-meta", name, "test-key")
    assert tmux_provider.run("get-meta", name, "test-key") == (0, "", "")
    assert tmux_provider.run("get-meta", name, "nonexistent-key") == (0, "", "")


@pytest.mark.parametrize("value", ["", " spaced ", "multi\nline", "ünïcødé ✓", "-v --flag", "$(touch /tmp/x)"])
def test_meta_values_are_stored_verbatim(tmux_provider: Provider, start: Start, value: str) -> None:
    name = start()
    tmux_provider.ok("set-meta", name, "k", stdin=value)
    # As stored: no newline of get-meta's own (PROTOCOL.md, CONVENTIONS).
    assert tmux_provider.run("get-meta", name, "k").out == value


def test_start_env_is_readable_as_meta(tmux_provider: Provider, start: Start) -> None:
    name = start({"env": {"GC_SESSION_ID": "sess-42", "GC_ALIAS": "", "PLAIN": "x"}})
    assert tmux_provider.ok("get-meta", name, "GC_SESSION_ID") == "sess-42"
    assert re.fullmatch(r"[0-9a-f]{32}", tmux_provider.ok("get-meta", name, "GC_INSTANCE_TOKEN"))
    assert tmux_provider.ok("get-meta", name, "GC_ALIAS") == ""


def test_an_agent_inside_the_session_reaches_the_same_meta(
    tmux_provider: Provider, start: Start, tmp_path: Path
) -> None:
    out = tmp_path / "inside.txt"
    exe = " ".join(tmux_provider.argv)
    # The agent inherits only the session's environment (GC_TMUX_SOCKET among it). It asks
    # until the value is there, however long the set-meta below takes on a loaded machine,
    # and writes the file once, whole (a rename), so the test never reads half an answer.
    inner = (f"until v=$({exe} get-meta \"$GC_TMUX_SESSION\" shared) && [ -n \"$v\" ];"
             f" do sleep 0.1; done; printf %s \"$v\" > {out}.new; mv {out}.new {out}; sleep 300")
    name = start({"command": f"env -u GC_EXEC_STATE_DIR sh -c '{inner}'"})
    tmux_provider.ok("set-meta", name, "shared", stdin="from-gc")
    assert wait_for(lambda: out.exists() and out.read_text() == "from-gc")


def test_set_meta_on_a_missing_session_fails(tmux_provider: Provider) -> None:
    res = tmux_provider.run("set-meta", "no-such-session", "k", stdin="v")
    assert res.rc == 1 and "not found" in res.err


@pytest.mark.parametrize("key", ["-u", "a b", "a=b", "$(id)", ""])
def test_invalid_meta_keys_are_usage_errors(tmux_provider: Provider, start: Start, key: str) -> None:
    name = start()
    assert tmux_provider.run("get-meta", name, key).rc == 1


def test_peek_shows_output_and_all_history(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sh -c 'seq 1 500; sleep 300'"})
    assert wait_for(lambda: "500" in tmux_provider.ok("peek", name, "10"))
    assert "1\n2\n3\n" in tmux_provider.ok("peek", name, "0") + "\n"
    assert "\n100\n" not in tmux_provider.ok("peek", name, "10")


def test_last_activity_is_rfc3339_and_advances_with_output(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "cat"})
    first = tmux_provider.ok("get-last-activity", name)
    assert RFC3339.match(first)
    time.sleep(1.1)
    tmux_provider.ok("send-keys", name, "x")
    assert wait_for(lambda: tmux_provider.ok("get-last-activity", name) > first)


def test_best_effort_ops_on_missing_sessions_succeed(tmux_provider: Provider) -> None:
    for op, args in [("send-keys", ["Enter"]), ("interrupt", []), ("clear-scrollback", []),
                     ("nudge", []), ("copy-to", ["/nonexistent-path-for-conformance", ""]),
                     ("remove-meta", ["k"])]:
        stdin = "hello" if op == "nudge" else ""
        res = tmux_provider.run(op, "nonexistent-conformance-session", *args, stdin=stdin)
        assert res.rc == 0, (op, res)


def test_send_keys_sends_bare_key_names_without_enter(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "cat -v"})
    tmux_provider.ok("send-keys", name, "a", "b", "Enter", "c")
    # The tty echo and cat's copy interleave, so count rather than match a layout.
    assert wait_for(lambda: tmux_provider.ok("peek", name, "5").count("ab") == 2)
    screen = tmux_provider.ok("peek", name, "5")
    assert "c" in screen.replace("ab", "") and "Enter" not in screen


def test_clear_scrollback_and_interrupt_on_a_running_session(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sh -c 'seq 1 300; sleep 300'"})
    tmux_provider.ok("clear-scrollback", name)
    tmux_provider.ok("interrupt", name)
    assert wait_for(lambda: tmux_provider.ok("is-running", name) == "false")


def test_copy_to_files_and_directories_relative_to_the_work_dir(
    tmux_provider: Provider, start: Start, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("dir-file")
    (tmp_path / "single.txt").write_text("one")
    name = start({"work_dir": str(work)})
    tmux_provider.ok("copy-to", name, str(src), "into")
    tmux_provider.ok("copy-to", name, str(tmp_path / "single.txt"), "deep/renamed.txt")
    tmux_provider.ok("copy-to", name, str(tmp_path / "single.txt"), "")
    assert (work / "into" / "sub" / "f.txt").read_text() == "dir-file"
    assert (work / "deep" / "renamed.txt").read_text() == "one"
    assert (work / "single.txt").read_text() == "one"
    res = tmux_provider.run("copy-to", name, str(tmp_path / "single.txt"), "../escape.txt")
    assert res.rc == 1 and not (tmp_path / "escape.txt").exists()


def test_is_attached_follows_a_real_client(tmux_provider: Provider, start: Start) -> None:
    name = start()
    assert tmux_provider.ok("is-attached", name) == "false"
    # `attach` on a pseudo-terminal, as a person would run it.
    client = subprocess.Popen(["script", "-qc", " ".join([*tmux_provider.argv, "attach", name]), "/dev/null"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=tmux_provider.env)
    try:
        assert wait_for(lambda: tmux_provider.ok("is-attached", name) == "true")
    finally:
        client.kill()
        client.wait()
    assert wait_for(lambda: tmux_provider.ok("is-attached", name) == "false")


def test_attach_to_a_missing_session_fails(tmux_provider: Provider) -> None:
    res = tmux_provider.run("attach", "no-such-session")
    assert res.rc == 1 and "not found" in res.err


def test_protocol_handshake_declares_verified_capabilities(tmux_provider: Provider) -> None:
    import orjson

    doc = orjson.loads(tmux_provider.ok("protocol"))
    assert doc["version"] == 0
    assert doc["capabilities"][:5] == ["report-activity", "report-attachment", "proc.exec",
                                       "proc.provision", "proc.stream"]
    assert {"env.workspace", "env.identity", "env.transcripts"} <= set(doc["capabilities"])


@pytest.mark.parametrize("op", ["check-image", "no-such-op"])
def test_unimplemented_operations_exit_2_with_empty_stdout(tmux_provider: Provider, op: str) -> None:
    res = tmux_provider.run(op, "x")
    assert (res.rc, res.out) == (2, "")


def test_the_users_default_tmux_server_is_never_touched(tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    env = {**os.environ, "TMUX_TMPDIR": str(tmp_path)}
    start()
    listed = subprocess.run(["tmux", "ls"], env=env, capture_output=True, text=True)
    assert listed.returncode != 0  # no default server was started
