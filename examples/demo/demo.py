"""Drive gc-session-tmux exactly as Gas City does, and say what happened.

Each step runs the installed executable as a fresh process with no shell:
argv, stdin bytes, exit code. The session lives on a private tmux socket in a
temporary directory, which is removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "demo-agent"


def main() -> int:
    exe = shutil.which("gc-session-tmux", path=sysconfig.get_path("scripts")) or shutil.which("gc-session-tmux")
    if not exe:
        print("gc-session-tmux is not installed; run `make demo`", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="gc-demo-"))
    env = {**os.environ, "GC_TMUX_SOCKET": str(scratch / "tmux.sock"), "GC_EXEC_STATE_DIR": str(scratch)}
    env.pop("TMUX", None)

    def op(*args: str, stdin: str = "") -> str:
        shown = " ".join(args) + (f"   (stdin: {stdin!r})" if stdin else "")
        res = subprocess.run([exe, *args], input=stdin.encode(), capture_output=True, env=env, timeout=60)
        out = res.stdout.decode().rstrip("\n")
        print(f"$ gc-session-tmux {shown}\n  exit {res.returncode}" + (f", stdout: {out!r}" if out else ""))
        if res.returncode != 0:
            raise SystemExit(f"step failed: {res.stderr.decode().strip()}")
        return out

    try:
        print(f"Sessions live on a private tmux socket: {env['GC_TMUX_SOCKET']}\n")
        config = {
            "work_dir": str(scratch / "work"),
            "command": f"{sys.executable} {HERE / 'toy_agent.py'}",
            "env": {"GC_SESSION_ID": "demo-1", "GC_AGENT": "toy"},
            "process_names": ["toy_agent"],
            "ready_prompt_prefix": "❯",
            "nudge": "hello from the start config",
        }
        print("1. start an agent-like command; start waits for its process and prompt, then types the config nudge")
        op("start", NAME, stdin=json.dumps(config, separators=(",", ":")))
        assert op("is-running", NAME) == "true"
        assert op("process-alive", NAME, stdin="toy_agent") == "true"
        assert op("get-meta", NAME, "GC_SESSION_ID") == "demo-1"

        print("\n2. nudge it; the text is typed literally and submitted once")
        before = op("get-last-activity", NAME)
        time.sleep(1.1)  # activity has one-second resolution
        op("nudge", NAME, stdin="Please fix the failing test (C-c, Enter and -l are just text)")
        for _ in range(50):  # the reply takes a moment; poll quietly
            screen = subprocess.run([exe, "peek", NAME, "20"], capture_output=True, env=env).stdout.decode()
            if "working on it" in screen.split("Please fix")[-1]:
                break
            time.sleep(0.1)
        print("\n3. peek shows its reply:")
        print("\n".join("   | " + line for line in op("peek", NAME, "6").splitlines()))
        after = op("get-last-activity", NAME)
        print(f"\n4. activity advanced: {before} -> {after}")
        assert after > before, "activity did not advance"

        print("\n5. stop ends the session and its whole process tree")
        op("stop", NAME)
        assert op("is-running", NAME) == "false"
        assert op("process-alive", NAME, stdin="toy_agent") == "false"
        print("\ndemo OK: start, nudge, peek, activity and stop behaved as Gas City expects")
        return 0
    finally:
        subprocess.run([exe, "stop", NAME], capture_output=True, env=env)
        subprocess.run(["tmux", "-S", env["GC_TMUX_SOCKET"], "kill-server"], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
