"""Every console command from a plain install (no extras): help, version, a failing doctor.

Run by ``make smoke-plain-install`` against a fresh venv holding only the wheel
and its declared dependencies, so a module that only the test extras bring in
(click, libtmux, pytest…) fails here instead of on an operator's machine.

    python .ci/smoke-plain-install.py <venv>/bin

Each case asserts the exit code and that nothing printed a traceback or an
"internal error". Doctors run with PATH reduced to the venv (no tmux, no
kubectl, no cluster), so each must fail with exit 1 and one line per finding.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import NamedTuple

import orjson

EXECUTABLES = ("gc-session-tmux", "gc-session-k8s", "gc-beads-k8s", "gc-provider-conformance")


class Case(NamedTuple):
    argv: tuple[str, ...]
    rc: int
    stdout_has: str = ""
    json_out: bool = False
    env: tuple[tuple[str, str], ...] = ()
    stderr_has: str = ""


def cases(bin_dir: str) -> list[Case]:
    table = [Case((exe, flag), 0, "usage") for exe in EXECUTABLES for flag in ("--help", "-h")]
    table += [Case((exe, "--version"), 0, exe) for exe in EXECUTABLES]
    table += [
        Case(("gc-session-tmux", "doctor"), 1, "FAIL"),
        Case(("gc-session-tmux", "doctor", "--json"), 1, json_out=True),
        Case(("gc-session-k8s", "doctor"), 1, "FAIL"),
        # No [k8s] extra on a plain install: the client's checks name the install.
        Case(("gc-session-k8s", "doctor"), 1, "pip install 'gc-session-providers[k8s]'"),
        Case(("gc-session-k8s", "doctor", "--json"), 1, json_out=True),
        Case(("gc-beads-k8s", "doctor"), 1, "FAIL"),
        Case(("gc-beads-k8s", "doctor", "--json"), 1, json_out=True),
        # The offline API server, for trying the Kubernetes commands without a cluster.
        Case(("gc-fakekube", "--help"), 0, "usage: gc-fakekube"),
        Case(("gc-beads-k8s", "init", "--help"), 0, "usage: gc-beads-k8s init"),
        Case(("gc-beads-k8s", "init", "-h"), 0, "usage: gc-beads-k8s init"),
        Case(("gc-beads-k8s", "init", "--quiet"), 1),
        Case(("gc-beads-k8s", "init", "--bogus"), 1),
        # The kit's "doctor": a provider that does not exist fails fast, in one line.
        Case(("gc-provider-conformance", "no-such-provider"), 1),
        Case(("gc-provider-conformance", "./no-such-provider"), 1),
        # Settings the operations would misread: doctors fail, ops refuse before running.
        Case(("gc-session-tmux", "doctor"), 1, "FAIL  tmux: cannot run tmux: '/nonexistent/tmux'",
             env=(("GC_TMUX", "/nonexistent/tmux"),)),
        Case(("gc-session-k8s", "is-running", "s"), 1, env=(("GC_K8S_TRANSPORT", "bogus"),),
             stderr_has="want one of auto, kubectl, direct, helper"),
        Case(("gc-beads-k8s", "list"), 1, env=(("GC_K8S_TRANSPORT", "bogus"),),
             stderr_has="want one of auto, kubectl, direct, helper"),
        Case(("gc-session-tmux", "nudge", "s"), 1, env=(("GC_NUDGE_DEBOUNCE_MS", "abc"),),
             stderr_has="invalid GC_NUDGE_DEBOUNCE_MS='abc': want a whole number of milliseconds"),
    ]
    for exe in EXECUTABLES[:3]:
        table += [Case((exe, op, "--help"), 0, f"usage: {exe} {op}") for op in operations(bin_dir, exe)]
    return table


def operations(bin_dir: str, exe: str) -> list[str]:
    """The operation names an executable's --help lists."""
    out = subprocess.run([os.path.join(bin_dir, exe), "--help"], capture_output=True, text=True).stdout
    lines = out.split("operations:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("   ")]


def run(bin_dir: str, case: Case, home: str) -> str:
    """'' when the case holds, else why not."""
    env = {"PATH": bin_dir, "HOME": home, "KUBECONFIG": os.path.join(home, "absent"), "LANG": "C.UTF-8",
           **dict(case.env)}
    argv = [os.path.join(bin_dir, case.argv[0]), *case.argv[1:]]
    try:
        res = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=home, timeout=60,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "timed out"
    both = res.stdout + res.stderr
    problems = []
    if res.returncode != case.rc:
        problems.append(f"exit {res.returncode}, want {case.rc}")
    problems += [f"printed {bad!r}" for bad in ("Traceback (most recent call last)", "ModuleNotFoundError")
                 if bad in both]
    if "internal error:" in res.stderr:
        problems.append("reported an internal error")
    if case.stdout_has and case.stdout_has.lower() not in res.stdout.lower():
        problems.append(f"stdout lacks {case.stdout_has!r}")
    if case.stderr_has and case.stderr_has not in res.stderr:
        problems.append(f"stderr lacks {case.stderr_has!r}")
    if case.json_out:
        try:
            orjson.loads(res.stdout)
        except orjson.JSONDecodeError:
            problems.append("stdout is not one JSON document")
    if res.returncode != 0 and not case.json_out and len(res.stderr.strip().splitlines()) > 1:
        problems.append("more than one line on stderr")
    if problems:
        return "; ".join(problems) + "\n    stdout: " + res.stdout[-400:] + "\n    stderr: " + res.stderr[-400:]
    return ""


def main() -> int:
    bin_dir = os.path.abspath(sys.argv[1])
    failures = 0
    with tempfile.TemporaryDirectory(prefix="gc-smoke-") as home:
        table = cases(bin_dir)
        for case in table:
            why = run(bin_dir, case, home)
            print(("FAIL " if why else "ok   ") + " ".join(case.argv) + (f": {why}" if why else ""))
            failures += bool(why)
    print(f"{len(table)} commands, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
