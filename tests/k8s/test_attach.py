"""`attach` replaces itself with `kubectl exec -it … tmux attach`; is-attached sees it."""

from __future__ import annotations

import os
import pty
import select
import time

from helpers import wait_for
from k8s_helpers import K8s


def read_some(fd: int, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def test_attach_shows_the_session_and_detaches_cleanly(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sh -c 'echo attach-me; exec sleep 300'"}).rc == 0
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes the provider, as gc's terminal would run it
        os.execvpe(k8s.argv[0], [*k8s.argv, "attach", name], {**k8s.env, "TERM": "xterm"})
    try:
        seen = read_some(fd, 3.0)
        assert wait_for(lambda: k8s.ok("is-attached", name) == "true", timeout=15)
        seen += read_some(fd, 0.5)
        assert b"attach-me" in seen
        os.write(fd, b"\x02d")  # C-b d: detach
        deadline = time.monotonic() + 15
        status = 0
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            read_some(fd, 0.2)
        else:
            os.kill(pid, 9)
            raise AssertionError("attach did not exit after detach")
        assert os.waitstatus_to_exitcode(status) == 0
        assert k8s.ok("is-attached", name) == "false"
        assert k8s.ok("is-running", name) == "true"
    finally:
        os.close(fd)
