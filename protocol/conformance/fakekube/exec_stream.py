"""The Kubernetes remote-command channel protocol (v4/v5.channel.k8s.io) over
our WebSocket, bridged to a host process (with or without a pseudo-terminal).

Every message starts with one channel byte: 0 stdin, 1 stdout, 2 stderr,
3 status (JSON `Status`, sent once at the end), 4 resize (JSON
{"Width","Height"}). v5 adds a close message `0xFF <channel>` (stdin EOF).
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
from typing import Any

import orjson

from protocol.conformance.fakekube.websocket import ConnectionClosed, WebSocket

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
SUPPORTED = (V5, V4)


def choose_subprotocol(offered: str) -> str | None:
    names = [p.strip() for p in offered.split(",") if p.strip()]
    for proto in SUPPORTED:
        if proto in names:
            return proto
    return None


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"{command}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def error_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
            "code": 500}


def _set_winsize(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _tty_child_setup() -> None:
    # New session with the pty slave (fd 0) as controlling terminal, as a container runtime does.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_exec(ws: WebSocket, argv: list[str], command: list[str], *, stdin: bool, tty: bool,
             v5: bool) -> None:
    """Run `argv` on the host, stream it over `ws`, send the status, close."""
    out_fds: list[tuple[int, int]] = []  # (fd, channel)
    master = -1
    try:
        if tty:
            master, slave = pty.openpty()
            _set_winsize(master, 80, 24)
            proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                    preexec_fn=_tty_child_setup, close_fds=True)
            os.close(slave)
            out_fds.append((master, STDOUT))
            stdin_fd = master if stdin else -1
        else:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
            )
            assert proc.stdout is not None and proc.stderr is not None
            out_fds += [(proc.stdout.fileno(), STDOUT), (proc.stderr.fileno(), STDERR)]
            stdin_fd = proc.stdin.fileno() if proc.stdin is not None else -1
    except OSError as e:
        _send_status(ws, error_status(f"failed to start exec: {e}"))
        ws.close()
        return

    stdin_open = [stdin_fd >= 0]

    def close_stdin() -> None:
        if stdin_open[0] and not tty:
            stdin_open[0] = False
            assert proc.stdin is not None
            try:
                proc.stdin.close()
            except OSError:
                pass

    def pump_in() -> None:
        try:
            while True:
                _opcode, msg = ws.receive()
                if not msg:
                    continue
                # Text frames (the Python client's stdin) carry the same bytes as binary ones.
                channel, data = msg[0], msg[1:]
                if channel == STDIN and stdin_open[0]:
                    try:
                        os.write(stdin_fd, data)
                    except OSError:
                        close_stdin()
                elif channel == RESIZE and tty:
                    size = orjson.loads(data)
                    _set_winsize(master, int(size.get("Width", 80)), int(size.get("Height", 24)))
                elif channel == CLOSE and v5 and data[:1] == bytes([STDIN]):
                    if tty and stdin_open[0]:
                        os.write(master, b"\x04")  # EOF for a terminal line discipline
                    close_stdin()
        except (ConnectionClosed, OSError, ValueError):
            pass
        # The client went away (or closed): stdin EOF; a terminal gets a hangup.
        close_stdin()
        if tty and proc.poll() is None:
            try:
                proc.send_signal(1)
            except ProcessLookupError:
                pass

    def pump_out(fd: int, channel: int) -> None:
        prefix = bytes([channel])
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: pty slave closed
                break
            if not data:
                break
            try:
                ws.send_binary(prefix + data)
            except ConnectionClosed:
                break

    reader = threading.Thread(target=pump_in, daemon=True)
    reader.start()
    writers = [threading.Thread(target=pump_out, args=fc, daemon=True) for fc in out_fds]
    for t in writers:
        t.start()
    code = proc.wait()
    for t in writers:
        # A daemon that inherited the pipes must not hold the status back forever.
        t.join(timeout=5 if not tty else 2)
    code = 128 - code if code < 0 else code
    _send_status(ws, exit_status(code, command))
    ws.close()
    for fd, _ in out_fds:
        if fd == master:
            os.close(master)
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    close_stdin()


def _send_status(ws: WebSocket, status: dict[str, Any]) -> None:
    try:
        ws.send_binary(bytes([STATUS]) + orjson.dumps(status))
    except ConnectionClosed:
        pass
