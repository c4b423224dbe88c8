"""`gc-session-tmux doctor`: can this machine run sessions in local tmux?

One line per finding (or one JSON document with ``--json``); exit 1 if any
check fails. Nothing here runs on a protocol operation.
"""

from __future__ import annotations

import os
import shutil
import sys

from protocol.human import JSON_FLAG, Command, Doctor, parse

#: Where the provider is built and tested to run (see the README's "Platforms").
SUPPORTED_PLATFORMS = ("linux", "darwin")

COMMAND = Command(
    "gc-session-tmux doctor", (), (JSON_FLAG,),
    "Check the platform, tmux, the tools the provider runs and its tmux socket; "
    "exit 1 if any check fails.",
    "Reads the same settings as the operations (GC_TMUX, GC_TMUX_SOCKET, TMUX_TMPDIR, GC_PORTABLE).")


def check_tmux(report: Doctor) -> str | None:
    """Run the tmux the operations run (``GC_TMUX`` resolved, else tmux on PATH) with ``-V``."""
    from protocol import proc
    from protocol.errors import ProviderError
    from providers.gc_session_tmux.local_runner import tmux_binary

    try:
        found = tmux_binary(os.environ)
    except ProviderError as error:
        hint = "" if os.environ.get("GC_TMUX") else " (install tmux: apt-get install tmux, brew install tmux)"
        report.check(False, "tmux", f"{error}{hint}")
        return None
    res = proc.run([found, "-V"], timeout=10)
    version = res.text().strip()
    if not res.ok or not version.startswith("tmux"):
        report.check(False, "tmux", f"{found} -V: {res.error_text() or version or f'exit {res.rc}'}")
        return None
    report.check(True, "tmux", f"{version} ({found})")
    return found


def check_paths(report: Doctor) -> None:
    """Which process paths run here; the portable ones need ``ps``."""
    from protocol import processes

    if processes.fast():
        report.add("info", "process paths", "Linux: /proc, memfd, pidfd")
        return
    why = "GC_PORTABLE=1" if os.environ.get("GC_PORTABLE") == "1" else f"no /proc or memfd on {sys.platform}"
    found = shutil.which("ps")
    report.check(bool(found), "process paths",
                 f"portable: ps ({found}), temp files, waitpid ({why})" if found else
                 f"portable paths ({why}) need ps, which is not on PATH")


def check_socket(report: Doctor, tmux: str) -> None:
    from protocol import proc
    from protocol.errors import ProviderError
    from providers.gc_session_tmux.sockets import socket_path

    try:
        path = socket_path(os.environ)
    except ProviderError as error:
        report.check(False, "socket", str(error))
        return
    directory = os.path.dirname(path)
    parent = directory if os.path.isdir(directory) else os.path.dirname(directory)
    if not os.access(parent, os.W_OK | os.X_OK):
        report.check(False, "socket", f"{path}: {parent} is not writable")
        return
    live = proc.run([tmux, "-S", path, "list-sessions", "-F", "#{session_name}"], timeout=10)
    count = len(live.text().split()) if live.ok else 0
    report.check(True, "socket", f"{path} ({count} session(s) running)" if live.ok else
                 f"{path} (no server running yet)")


def main(argv: list[str]) -> None:
    from protocol.errors import ExitWith

    parsed = parse(COMMAND, argv)
    if parsed is None:
        return
    report = Doctor("--json" in parsed.flags)
    report.check(sys.platform in SUPPORTED_PLATFORMS, "platform",
                 sys.platform if sys.platform in SUPPORTED_PLATFORMS else
                 f"{sys.platform} is not supported (Linux and macOS are)")
    tmux = check_tmux(report)
    report.check(bool(shutil.which("sh")), "sh", shutil.which("sh") or "not found on PATH")
    check_paths(report)
    if tmux:
        check_socket(report, tmux)
    if not report.finish():
        raise ExitWith(1)
