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

The executable starts Python without its site setup for this (`providers/bin`): this
module loads `posix`, `sys`, `select`, `time` and `providers.kube.transport.wire`, no
`socket`, no TLS and no JSON: the request goes through the helper's door (a FIFO in the
0700 runtime dir, `wire.ask_door`), and the helper holds the connections.
"""

import posix
import sys

#: The ops handed to the helper whole: reads only (a read may run twice, a write never),
#: the ones gc sends every tick first. `gc_session_k8s.answer` answers these.
READS = frozenset({"is-running", "process-alive", "get-last-activity", "get-meta", "peek",
                   "is-attached"})
#: The name of our answerer in the helper (`gc_session_k8s.helper` hands it over).
ANSWERER = "gc-session-k8s"
#: Above the op's own exec timeout (`gc_session_k8s.pod_runner.DEFAULT_TIMEOUT`).
ANSWER_TIMEOUT = 40.0


def main(argv: list[str], site_pending: str | None) -> None:
    """The executable's run: the helper's answer, else the op the full way.

    ``site_pending``: the directory of our packages, put on sys.path by the executable,
    which started without Python's site setup; it is set up here before the full way runs
    (which may import anything installed). None: site is set up."""
    code = answer(argv)
    if code is None:
        if site_pending:
            sys.path.remove(site_pending)
            import site

            site.main()
        from gc_session_k8s.cli import main as full_way

        full_way()  # exits
        return
    posix._exit(code)  # as dispatch does on success: no interpreter teardown


def answer(argv: list[str]) -> int | None:
    """The exit code once the helper answered and its stdout is written; None: run the op
    the full way (stdin, if read here, is put back for it)."""
    if len(argv) < 3 or argv[1] not in READS or argv[2].startswith("-"):
        return None
    env = environ()
    if (env.get("GC_K8S_TRANSPORT") or "auto") not in ("auto", "helper"):
        return None
    try:
        try:
            data = read_stdin() if argv[1] == "process-alive" else b""
        except OSError:
            return None  # no readable stdin: the full way says so in its own words
        try:
            out = ask(argv[1:], data, env)
        except Exception:  # the helper's trouble is never the op's: the full way answers
            out = None
        if out is None:
            if data:
                import io

                sys.stdin = io.TextIOWrapper(io.BytesIO(data))
            return None
        view = memoryview(out)
        while view:
            view = view[posix.write(1, view):]
    except BrokenPipeError:
        return 1  # gc stopped reading: exit 1, quietly, as `protocol.dispatch.fail` maps it
    except KeyboardInterrupt:
        sys.stderr.write(f"gc-session-k8s {argv[1]}: interrupted\n")
        return 1
    return 0


def environ() -> dict[str, str]:
    """The environment as `os.environ` decodes it."""
    enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    return {key.decode(enc, errors): value.decode(enc, errors)
            for key, value in posix.environ.items()}


def read_stdin() -> bytes:
    chunks = []
    while chunk := posix.read(0, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def ask(argv: list[str], data: bytes, env: dict[str, str]) -> bytes | None:
    from providers.kube.transport import wire

    if any("\0" in arg for arg in argv):
        return None  # no process gets such an argv; the full way says what is wrong
    return wire.ask_door(wire.answer_request(ANSWERER, argv, data), ANSWER_TIMEOUT, env)
