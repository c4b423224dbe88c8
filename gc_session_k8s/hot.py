"""The tick's reads, handed to the helper whole: the executable's quickest path.

gc starts a fresh process for every op, about four per session per 30 s tick. With the
helper running, a read op (`READS`) is sent to it as it came (argv, environment, stdin)
and the helper runs the op's own code in its warm process (`gc_session_k8s.answer`,
through its kept answers and resident streams) and sends back the op's stdout. This
module and `providers.kube.transport.wire` are all the executable imports for that: no
session logic, no kubectl door, no dispatch table.

Anything else returns None and the executable runs the op the full way
(`gc_session_k8s.cli`), which is always right: another op, another transport
(``GC_K8S_TRANSPORT=kubectl|direct``), no helper yet (the full way starts one), a helper
of other code, arguments the op rejects, any failure. These ops only read, so one that
the helper began and did not finish may run again; it never runs differently.
"""

from __future__ import annotations

import os
import sys

#: The ops handed to the helper whole: reads only (a read may run twice, a write never),
#: the ones gc sends every tick first. `gc_session_k8s.answer` answers these.
READS = frozenset({"is-running", "process-alive", "get-last-activity", "get-meta", "peek",
                   "is-attached"})
ANSWERER = "gc_session_k8s.answer"
#: Above the op's own exec timeout (`gc_session_k8s.pod_runner.DEFAULT_TIMEOUT`).
ANSWER_TIMEOUT = 40.0


def answer(argv: list[str]) -> int | None:
    """The exit code once the helper answered and its stdout is written; None: run the op
    the full way (stdin, if read here, is put back for it)."""
    if len(argv) < 3 or argv[1] not in READS or argv[2].startswith("-"):
        return None
    if (os.environ.get("GC_K8S_TRANSPORT") or "auto") not in ("auto", "helper"):
        return None
    try:
        data = read_stdin() if argv[1] == "process-alive" else b""
        try:
            out = ask(argv[1:], data)
        except Exception:  # the helper's trouble is never the op's: the full way answers
            out = None
        if out is None:
            if data:
                import io

                sys.stdin = io.TextIOWrapper(io.BytesIO(data))
            return None
        view = memoryview(out)
        while view:
            view = view[os.write(1, view):]
    except BrokenPipeError:
        return 1  # gc stopped reading: exit 1, quietly, as `protocol.dispatch.fail` maps it
    except KeyboardInterrupt:
        sys.stderr.write(f"gc-session-k8s {argv[1]}: interrupted\n")
        return 1
    return 0


def read_stdin() -> bytes:
    chunks = []
    while chunk := os.read(0, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def ask(argv: list[str], data: bytes) -> bytes | None:
    from providers.kube.transport import wire

    sock = wire.connect()
    try:
        sock.settimeout(ANSWER_TIMEOUT)
        sock.sendall(wire.pack({"op": "answer", "answerer": ANSWERER,
                                "version": wire.code_version(), "env": dict(os.environ),
                                "argv": argv, "stdin": len(data)}, data))
        header = wire.recv_header(sock)
        if header.get("rc") != 0 or not isinstance(header.get("out"), int):
            return None
        return wire.recv_exact(sock, header["out"])
    finally:
        sock.close()
