"""Gas City's own checkers, and a real offline city, against gc-session-tmux.

Nothing here touches the network: telemetry is off by env, beads use gc's file store,
the supervisor binds 127.0.0.1 on a free port, and the tmux server is a private socket.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from realgc_helpers import GC, PROVIDER

FAKE_AGENT = """\
import sys
print("FAKE-AGENT ready", flush=True)
while True:
    sys.stdout.write("fake> "); sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        break
    if line.strip() == "quit":
        print("FAKE-AGENT bye", flush=True); break
    print("ECHO: " + line.rstrip("\\n"), flush=True)
"""


def gc(env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 180,
       check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([GC, *args], env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, check=False)
    if check:
        assert res.returncode == 0, f"gc {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def wait_for(pred: Callable[[], bool], timeout: float = 90, every: float = 0.5) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def test_gc_runtime_check_reports_no_failure(gc_env: dict[str, str]) -> None:
    res = gc(gc_env, "runtime", "check", PROVIDER)
    lines = res.stdout.splitlines()
    assert lines[-1] == "14 checks: 14 passed, 0 failed, 0 skipped", res.stdout


def test_gc_runtime_conformance_passes_every_requirement(gc_env: dict[str, str]) -> None:
    # gc 1.4.0 refuses a bare `--json` here (its JSON-contract layer); `--json=t` reaches the flag.
    res = gc(gc_env, "runtime", "conformance", "--json=t", PROVIDER)
    report = json.loads(res.stdout)
    status = {r["code"]: r["status"] for r in report["results"]}
    assert report["summary"]["failed"] == 0, res.stdout
    # exec and provision are implemented (the box's tmux carries gc's `main`): nothing skips.
    assert {c for c, s in status.items() if s == "SKIP"} == set()


def test_gc_runtime_conformance_env_suite_reports_no_failure(gc_env: dict[str, str]) -> None:
    res = gc(gc_env, "runtime", "conformance", "--env", PROVIDER)
    assert re.search(r"\b0 failed\b", res.stdout), res.stdout


@pytest.mark.slow
def test_a_real_city_starts_nudges_reports_and_stops_a_scripted_agent(
    gc_env: dict[str, str], tmp_path: Path,
) -> None:
    city = tmp_path / "city"
    agent = tmp_path / "fake-agent.py"
    agent.write_text(FAKE_AGENT)
    gc(gc_env, "init", "--template", "custom", "--no-start", str(city))
    (city / "agents" / "echoer").mkdir(parents=True, exist_ok=True)
    (city / "agents" / "echoer" / "agent.toml").write_text(
        f'start_command = "{sys.executable} {agent}"\nprompt_mode = "none"\n'
        'process_names = ["fake-agent"]\nready_prompt_prefix = "fake> "\n')
    with (city / "pack.toml").open("a") as f:
        f.write('\n[[named_session]]\ntemplate = "echoer"\nmode = "always"\n')
    (city / "city.toml").write_text(
        f'[workspace]\n\n[session]\nprovider = "exec:{PROVIDER}"\n\n[beads]\nprovider = "file"\n')
    # Registered by hand: `gc register`/`gc start` would install a systemd user service.
    (Path(gc_env["GC_HOME"]) / "cities.toml").write_text(f'[[cities]]\n  path = "{city}"\n  name = "city"\n')
    log = (tmp_path / "supervisor.log").open("w")
    sup = subprocess.Popen([GC, "supervisor", "run"], env=gc_env, cwd=city, stdout=log,
                           stderr=subprocess.STDOUT)

    def peek() -> str:
        return subprocess.run([PROVIDER, "peek", "echoer", "50"], env=gc_env, capture_output=True,
                              text=True, check=False).stdout

    try:
        active = re.compile(r"^\S+\s+echoer\s+active\b", re.M)
        assert wait_for(lambda: bool(active.search(gc(gc_env, "session", "list", cwd=city, check=False).stdout))), \
            (tmp_path / "supervisor.log").read_text()
        assert wait_for(lambda: "fake> " in peek(), 20)
        res = gc(gc_env, "session", "nudge", "--delivery", "immediate", "echoer", "hello from gc", cwd=city)
        assert res.stdout.strip() == "Nudged echoer"
        assert wait_for(lambda: "ECHO: hello from gc" in peek(), 20)
        status = gc(gc_env, "status", cwd=city).stdout
        assert re.search(r"^\s+echoer\s+awake \(always\)", status, re.M), status
        res = gc(gc_env, "stop", str(city), cwd=city)
        assert "City stopped." in res.stdout
        listing = gc(gc_env, "session", "list", cwd=city).stdout
        assert re.search(r"^\S+\s+echoer\s+asleep\s+city-stop\b", listing, re.M), listing
        out = subprocess.run([PROVIDER, "is-running", "echoer"], env=gc_env, capture_output=True, text=True,
                             check=False)
        assert out.stdout.strip() == "false"
    finally:
        gc(gc_env, "supervisor", "stop", "--wait", cwd=city, check=False, timeout=60)
        try:
            sup.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sup.kill()
        log.close()
        subprocess.run(["tmux", "-S", gc_env["GC_TMUX_SOCKET"], "kill-server"], capture_output=True, check=False)


def test_the_kit_and_gc_give_the_same_verdict_on_every_conformance_requirement(
    gc_env: dict[str, str],
) -> None:
    """The kit's `rpp` suite reimplements `gc runtime conformance`: same codes, same verdicts."""
    ours = subprocess.run([str(Path(sys.executable).parent / "gc-provider-conformance"), "--only", "rpp",
                           "--json", PROVIDER], env=gc_env, capture_output=True, text=True, timeout=600,
                          check=False)
    theirs = gc(gc_env, "runtime", "conformance", "--json=t", PROVIDER)
    kit = {r["code"]: r["status"] for r in json.loads(ours.stdout)["results"]}
    real = {r["code"]: r["status"] for r in json.loads(theirs.stdout)["results"]}
    assert kit == real


def test_the_kit_runs_every_step_of_gc_runtime_check_with_the_same_verdicts(gc_env: dict[str, str]) -> None:
    ours = subprocess.run([str(Path(sys.executable).parent / "gc-provider-conformance"), "--only", "check",
                           "--json", PROVIDER], env=gc_env, capture_output=True, text=True, timeout=600,
                          check=False)
    kit = [r["status"] for r in json.loads(ours.stdout)["results"]]
    theirs = gc(gc_env, "runtime", "check", PROVIDER).stdout.splitlines()
    real = [line.split(" ", 1)[0] for line in theirs if line.startswith(("PASS ", "FAIL ", "SKIP "))]
    assert kit == real
