"""A start that is signalled or killed at any point leaves nothing that blocks the next one.

Gas City sends SIGTERM to the start's process group when it cancels, and on
its timeout SIGKILLs the start process alone, orphaning its children.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import Provider, wait_for

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable


def config(tmp_path: Path, **extra: object) -> bytes:
    return json.dumps({"work_dir": str(tmp_path), "command": "sleep 300", **extra}).encode()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def read_pid(path: Path) -> int:
    assert wait_for(lambda: path.exists() and path.read_text().strip().isdigit(), timeout=30)
    return int(path.read_text())


def slow_tmux(tmp_path: Path, flag: Path) -> str:
    """A tmux that pauses inside the call that creates the session (after `flag` appears)."""
    wrapper = tmp_path / "slow-tmux"
    wrapper.write_text("#!/bin/sh\n"
                       f'for a in "$@"; do [ "$a" = start-server ] && {{ : > {flag}; sleep 1; }}; done\n'
                       'exec tmux "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_sigterm_while_tmux_creates_the_session_rolls_it_back(
    tmux_provider: Provider, tmp_path: Path
) -> None:
    flag = tmp_path / "creating"
    name = f"t-{uuid.uuid4().hex[:8]}"
    proc = tmux_provider.spawn("start", name, stdin=config(tmp_path), new_session=True,
                               env={"GC_TMUX": slow_tmux(tmp_path, flag)})
    try:
        assert wait_for(flag.exists, timeout=30)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and b"rolled back" in err
    assert err.count(b"\n") == 1, err
    assert tmux_provider.ok("is-running", name) == "false"
    assert name not in tmux_provider.ok("list-running", "")
    assert tmux_provider.run("start", name, stdin=config(tmp_path)).rc == 0
    tmux_provider.ok("stop", name)


@pytest.mark.parametrize("step", ["pre_start", "session_setup"])
def test_a_sigkilled_start_leaves_no_process_and_does_not_block_the_next(
    tmux_provider: Provider, tmp_path: Path, step: str
) -> None:
    pid_file = tmp_path / "child.pid"
    name = f"t-{uuid.uuid4().hex[:8]}"
    hang = {step: [f"echo $$ > {pid_file}; exec sleep 297"]}
    proc = tmux_provider.spawn("start", name, stdin=config(tmp_path, **hang))
    try:
        child = read_pid(pid_file)
        proc.kill()  # what Gas City's start timeout does: SIGKILL, the start process only
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_for(lambda: not alive(child), timeout=10)
    res = tmux_provider.run("start", name, stdin=config(tmp_path))
    assert res.rc == 0, res.err
    assert tmux_provider.ok("is-running", name) == "true"
    tmux_provider.ok("stop", name)


def test_a_start_still_running_elsewhere_is_not_recycled(
    tmux_provider: Provider, tmp_path: Path
) -> None:
    pid_file = tmp_path / "setup.pid"
    name = f"t-{uuid.uuid4().hex[:8]}"
    first = tmux_provider.spawn("start", name, stdin=config(
        tmp_path, session_setup=[f"echo $$ > {pid_file}; exec sleep 296"]))
    try:
        read_pid(pid_file)
        other_state = tmp_path / "other-state"  # another lock directory: only the marker tells
        other_state.mkdir(mode=0o700)
        res = tmux_provider.run("start", name, stdin=config(tmp_path),
                                env={"GC_EXEC_STATE_DIR": str(other_state)})
        assert res.rc == 1 and "another start is in progress" in res.err
        assert first.poll() is None
    finally:
        first.kill()
        first.wait(timeout=30)
    tmux_provider.ok("stop", name)


def test_a_failed_start_prints_one_line(tmux_provider: Provider, tmp_path: Path) -> None:
    res = tmux_provider.run("start", "dies", stdin=config(
        tmp_path, command="sh -c 'exit 3'", process_names=["never-appears"]))
    assert res.rc == 1 and res.err.count("\n") == 1 and "died during startup" in res.err


def test_env_values_never_appear_in_any_process_argv(tmux_provider: Provider, tmp_path: Path) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    seen = tmp_path / "seen"
    name = f"t-{uuid.uuid4().hex[:8]}"
    res = tmux_provider.run("start", name, stdin=config(
        tmp_path, env={"MY_TOKEN": secret},
        command=f"sh -c 'printf %s \"$MY_TOKEN\" > {seen}; exec sleep 300'"))
    assert res.rc == 0, res.err
    try:
        assert wait_for(lambda: seen.exists() and seen.read_text() == secret)
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
        assert secret not in ps.stdout
        tmux_provider.ok("set-meta", name, "API_TOKEN", stdin=secret)
        assert tmux_provider.ok("get-meta", name, "API_TOKEN") == secret
    finally:
        tmux_provider.ok("stop", name)


def test_a_deleted_socket_is_recreated_so_stop_stops_and_start_reuses_the_server(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "agent.pid"
    tmux_provider.ok("start", "keep", stdin=config(tmp_path))  # keeps the server up
    tmux_provider.ok("start", "a", stdin=config(
        tmp_path, command=f"sh -c 'echo $$ > {pid_file}; exec sleep 300'"))
    agent = read_pid(pid_file)
    server = subprocess.run(["tmux", "-S", str(tmux_socket), "display-message", "-p", "#{pid}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    tmux_socket.unlink()
    assert tmux_provider.ok("is-running", "a") == "true"
    tmux_socket.unlink()
    tmux_provider.ok("stop", "a")
    assert wait_for(lambda: not alive(agent))
    tmux_socket.unlink()
    tmux_provider.ok("start", "b", stdin=config(tmp_path))
    again = subprocess.run(["tmux", "-S", str(tmux_socket), "display-message", "-p", "#{pid}"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert again == server
    assert tmux_provider.ok("list-running", "") == "b\nkeep"
    tmux_provider.ok("stop", "b")
    tmux_provider.ok("stop", "keep")


OPS = [("start", [], "{}"), ("stop", [], ""), ("is-running", [], ""), ("process-alive", [], "sleep"),
       ("nudge", [], "hi"), ("set-meta", ["K"], "v"), ("get-meta", ["K"], ""),
       ("remove-meta", ["K"], ""), ("peek", ["5"], ""), ("get-last-activity", [], ""),
       ("clear-scrollback", [], ""), ("send-keys", ["Enter"], ""), ("interrupt", [], ""),
       ("is-attached", [], ""), ("attach", [], ""), ("copy-to", ["/etc/hostname", "x"], ""),
       ("list-running", [], "")]


@pytest.mark.parametrize("tmux_env", [{"GC_TMUX": "/nonexistent/tmux"}, {"GC_TMUX": "no-such-tmux"},
                                      {"PATH": "/nonexistent"}], ids=["bad-path", "bad-name", "no-path"])
def test_without_tmux_every_op_fails_with_one_clear_line(
    tmux_provider: Provider, tmp_path: Path, tmux_env: dict[str, str]
) -> None:
    tmux_provider.ok("start", "live", stdin=config(tmp_path))
    try:
        for op, args, stdin in OPS:
            target = [""] if op == "list-running" else ["live"]
            res = tmux_provider.run(op, *target, *args, stdin=stdin, env=tmux_env)
            assert res.rc == 1 and res.err.count("\n") == 1, (op, res)
            assert "cannot run tmux" in res.err, (op, res.err)
        assert tmux_provider.ok("is-running", "live") == "true"
    finally:
        tmux_provider.ok("stop", "live")


def test_gc_tmux_names_the_tmux_binary(tmux_provider: Provider, tmp_path: Path) -> None:
    log = tmp_path / "calls"
    wrapper = tmp_path / "my-tmux"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec tmux "$@"\n')
    wrapper.chmod(0o755)
    env = {"GC_TMUX": str(wrapper)}
    tmux_provider.ok("start", "w", stdin=config(tmp_path), env=env)
    assert tmux_provider.ok("is-running", "w", env=env) == "true"
    tmux_provider.ok("nudge", "w", stdin="hi", env=env)
    tmux_provider.ok("stop", "w", env=env)
    calls = log.read_text()
    assert "start-server" in calls and "list-panes" in calls and "load-buffer" in calls


def test_a_read_only_socket_directory_fails_the_start_clearly(
    tmux_provider: Provider, tmp_path: Path
) -> None:
    directory = tmp_path / "ro"
    directory.mkdir(mode=0o700)  # private, as any socket directory must be
    # A read-only bind mount in a private mount namespace (root ignores mode bits).
    argv = ["unshare", "-rm", "sh", "-c",
            'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
            "sh", str(directory), *tmux_provider.argv, "start", "ro"]
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode:
        pytest.skip("no user and mount namespaces here")
    res = subprocess.run(argv, input=config(tmp_path), capture_output=True, timeout=60, check=False,
                         env={**tmux_provider.env, "GC_TMUX_SOCKET": str(directory / "s")})
    assert res.returncode == 1, res.stderr
    assert res.stderr.count(b"\n") == 1 and b"not writable" in res.stderr
    assert not (directory / "s").exists()
