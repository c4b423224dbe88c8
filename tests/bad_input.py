"""Bad input every op of a session executable must answer with one clear line: a closed
stdin (fd 0 closed, ``<&-``), NUL bytes and JSON of the wrong types. Shared by the tmux
and k8s tests (tests/tmux/test_tmux_bad_input.py, tests/k8s/test_k8s_bad_input.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from typing import NamedTuple


class Outcome(NamedTuple):
    rc: int
    out: str
    err: str


def run_closed_stdin(argv: list[str], env: Mapping[str, str], timeout: float = 90) -> Outcome:
    """Run with fd 0 closed, as ``<&-`` in a shell does (not /dev/null: closed)."""
    proc = subprocess.run(["/bin/sh", "-c", 'exec "$@" <&-', "sh", *argv], capture_output=True,
                          timeout=timeout, env=dict(env), check=False)
    return Outcome(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                   proc.stderr.decode("utf-8", "replace"))


def clear(res: Outcome | object) -> bool:
    """At most one line on stderr and never an internal error's."""
    err = str(getattr(res, "err", ""))
    return err.count("\n") <= 1 and "internal error" not in err and "Traceback" not in err


#: (op, args after the name, reads stdin): every op gc sends with a session name.
SESSION_OPS = [("start", [], True), ("stop", [], False), ("interrupt", [], False),
               ("is-running", [], False), ("is-attached", [], False),
               ("process-alive", [], True), ("nudge", [], True), ("set-meta", ["K"], True),
               ("get-meta", ["K"], False), ("remove-meta", ["K"], False), ("peek", ["5"], False),
               ("get-last-activity", [], False), ("clear-scrollback", [], False),
               ("send-keys", ["Enter"], False), ("copy-to", ["/nonexistent-src", ""], False)]

#: Start configs with a NUL byte in one field each, and with each field of the wrong type.
NUL_CONFIGS = [{"work_dir": "/tmp/a\0b"}, {"command": "sleep 1\0; echo"},
               {"env": {"A": "x\0y"}}, {"env": {"A\0B": "x"}}, {"process_names": ["a\0"]},
               {"nudge": "hi\0there"}, {"pre_start": ["true\0"]}, {"session_setup": ["\0"]},
               {"session_setup_script": "/x\0"}, {"overlay_dir": "/o\0"},
               {"pack_overlay_dirs": ["/p\0"]}, {"copy_files": [{"src": "/s\0", "rel_dst": "d"}]},
               {"copy_files": [{"src": "/s", "rel_dst": "d\0"}]}, {"ready_prompt_prefix": "\0"}]
WRONG_TYPES = [[], "x", 1, None, {"work_dir": 1}, {"command": ["sleep"]}, {"env": ["A=1"]},
               {"env": {"A": 1}}, {"process_names": "claude"}, {"process_names": [1]},
               {"ready_delay_ms": "10"}, {"ready_delay_ms": -1}, {"ready_delay_ms": True},
               {"copy_files": {"src": "/s"}}, {"copy_files": ["/s"]}, {"nudge": {"text": "x"}},
               {"lifecycle": False}, {"pre_start": [None]}]


def config_bytes(cfg: object) -> bytes:
    return json.dumps(cfg).encode()
