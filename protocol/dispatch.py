"""argv → operation dispatch for protocol executables.

Gas City runs ``<exe> <op> [args…]`` with no shell and reads the exit code.
click, typer and argparse exit 2 on a usage error, which Gas City would read as
"operation not implemented" (success, empty output), so the operation path is
parsed here by hand. `fail` is the one place where an outcome becomes an exit
code; success is simply returning, so the hot path never imports `enum`.
"""

from __future__ import annotations

import os
import sys
import time

from protocol.errors import ExitWith, ProviderError, TemporaryError, UnknownOperation, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from protocol.metrics import Registry
    from protocol.settings import Setting

    Handler = Callable[["Call"], "str | bytes | None"]
    Validator = Callable[[str], str]


class Operation:
    """One row of an executable's operation table.

    ``args`` names the positional arguments after the operation; each name is
    also the key of the validator applied to it. A trailing ``"*keys"`` takes
    one or more values. ``human`` marks a command for people (``doctor``,
    ``init``): it receives the raw remaining argv and is never called by gc.
    ``observed``: counted and logged (`observe`); False for the commands that read those.
    """

    __slots__ = ("args", "handler", "human", "observed", "stdin", "summary")

    def __init__(
        self,
        handler: Handler,
        args: Sequence[str] = ("name",),
        *,
        stdin: str = "",
        summary: str = "",
        human: bool = False,
        observed: bool = True,
    ) -> None:
        self.handler = handler
        self.observed = observed
        self.args = tuple(args)
        self.stdin = stdin
        self.summary = summary
        self.human = human


class Call:
    """What a handler sees: validated arguments, the environment and stdin."""

    __slots__ = ("args", "environ", "exe", "op", "rest")

    def __init__(self, exe: str, op: str, args: dict[str, str], rest: list[str]) -> None:
        self.exe = exe
        self.op = op
        self.args = args
        self.rest = rest
        self.environ: Mapping[str, str] = os.environ

    def __getitem__(self, name: str) -> str:
        return self.args[name]

    def stdin_bytes(self) -> bytes:
        """Read all of stdin (gc closes it after writing the payload); `StdinClosed` when
        the process started without one (fd 0 closed, not merely at its end)."""
        if sys.stdin is None:
            raise StdinClosed("stdin is closed (fd 0), and this operation reads its "
                              "input there (give it /dev/null for none)")
        return sys.stdin.buffer.read()


class StdinClosed(UsageError):
    """The process was started with fd 0 closed: there is no input to read."""


def open_closed_stdio() -> None:
    """A caller that closed fd 0, 1 or 2 (gc never does) gets /dev/null there, so that no
    file we open lands on it (a lock file as fd 0 would be a child's stdin). Python marks
    each such stream None at start; stdin stays None (`Call.stdin_bytes` says so), stdout
    and stderr write to /dev/null."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        got = os.open(os.devnull, os.O_RDWR)
        if got != fd:  # something took the number meanwhile: leave it
            os.close(got)
        if fd:
            setattr(sys, name, open(fd, "w", encoding="utf-8", errors="replace",  # noqa: SIM115
                                    closefd=False))  # the process's stream, never closed


def one_line(text: str) -> str:
    """Collapse a message to a single stderr line."""
    return " ".join(text.split()) or "failed"


def fail(exe: str, op: str, error: BaseException) -> int:
    """Map an outcome to its exit code and print the one-line reason.

    This is the only place exit codes are chosen (see `protocol.exit.ExitCode`).
    """
    from protocol.exit import ExitCode

    if isinstance(error, ExitWith):
        return error.code
    if isinstance(error, UnknownOperation):
        sys.stderr.write(f"{exe}: unknown operation {op!r} (not implemented)\n")
        return ExitCode.NOT_IMPLEMENTED
    if isinstance(error, KeyboardInterrupt):
        sys.stderr.write(f"{exe} {op}: interrupted\n")
        return ExitCode.FAILURE
    if isinstance(error, TemporaryError):
        sys.stderr.write(f"{exe} {op}: {one_line(str(error))}\n")
        return ExitCode.TEMPORARY_FAILURE if op == "start" else ExitCode.FAILURE
    if isinstance(error, ProviderError):
        sys.stderr.write(f"{exe} {op}: {one_line(str(error))}\n")
        return ExitCode.FAILURE
    if isinstance(error, BrokenPipeError):
        return ExitCode.FAILURE
    if os.environ.get("GC_PROVIDER_DEBUG"):
        import traceback

        traceback.print_exception(error)
    sys.stderr.write(f"{exe} {op}: internal error: {type(error).__name__}: {one_line(str(error))}\n")
    return ExitCode.FAILURE


def usage_of(names: Sequence[str]) -> str:
    """``<name> [<limit>] <key>...`` from an argument spec."""
    words = []
    for n in names:
        word = f"<{n.lstrip('?*')}>" + ("..." if "*" in n else "")
        words.append(f"[{word}]" if n.startswith("?") else word)
    return " ".join(words)


def bind(op: str, spec: Operation, argv: Sequence[str], validators: Mapping[str, Validator]) -> Call:
    """Check the arity and validate each argument; usage errors exit 1.

    An argument spec is a name (required), ``?name`` (optional), ``*name``
    (one or more, last) or ``?*name`` (zero or more, last). Optional values
    are bound to ``""`` when absent; repeated values go to `Call.rest`.
    """
    names = spec.args
    variadic = names[-1] if names and "*" in names[-1] else ""
    single = names[:-1] if variadic else names
    required = [n for n in single if not n.startswith("?")]
    optional = [n for n in single if n.startswith("?")]
    usage = f"usage: {op} {usage_of(names)}".rstrip()
    least = len(required) + (1 if variadic and not variadic.startswith("?") else 0)
    if len(argv) < least:
        raise UsageError(usage)
    if not variadic and len(argv) > len(single):
        raise UsageError(f"too many arguments; {usage}")
    bound: dict[str, str] = {}
    values = list(argv)
    for name in required + optional:
        key = name.lstrip("?")
        value = values.pop(0) if values else ""
        check = validators.get(name) or validators.get(key)
        bound[key] = check(value) if check and (value or name in required) else value
    rest = values
    if variadic:
        check = validators.get(variadic) or validators.get(variadic.lstrip("?"))
        rest = [check(v) for v in rest] if check else rest
    return Call("", op, bound, rest)


def output(result: str | bytes | None) -> bytes:
    """An operation's stdout for what its handler returned; text gets one trailing newline."""
    if result is None:
        return b""
    data = result.encode() if isinstance(result, str) else result
    if isinstance(result, str) and data and not data.endswith(b"\n"):
        data += b"\n"
    return data


def write_out(result: str | bytes | None) -> None:
    """Write an operation's stdout (`output`)."""
    data = output(result)
    if not data:
        return
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


def op_help(exe: str, op: str, spec: Operation) -> str:
    """``<exe> <op> --help``: the op's synopsis, its stdin and what it does."""
    lines = [f"usage: {exe} {op} {usage_of(spec.args)}".rstrip()
             + (f"  < {spec.stdin}" if spec.stdin else "")]
    if spec.summary:
        lines.append(f"  {spec.summary}")
    return "\n".join(lines)


def protocol_doc() -> str:
    """Where PROTOCOL.md is: shipped inside the package, so the path works after install."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "PROTOCOL.md")


def help_text(exe: str, table: Mapping[str, Operation], about: str) -> str:
    lines = [f"usage: {exe} <operation> [arguments]", "", about, "", "operations:"]
    for op, spec in table.items():
        args = usage_of(spec.args)
        stdin = f"  (stdin: {spec.stdin})" if spec.stdin else ""
        lines.append(f"  {op} {args}".rstrip() + f"{stdin}")
        if spec.summary:
            lines.append(f"      {spec.summary}")
    lines += ["", "'<operation> --help' shows one operation's synopsis.",
              "Exit codes: 0 ok, 1 failure (one line on stderr), 2 unknown operation,",
              "75 start failed temporarily. The protocol: " + protocol_doc()]
    return "\n".join(lines)


def run(
    exe: str,
    table: Mapping[str, Operation],
    validators: Mapping[str, Validator],
    argv: Sequence[str] | None = None,
    *,
    about: str = "",
    version: str = "",
    settings: Mapping[str, Setting] | None = None,
    log_env: str = "",
    correlation: Callable[[], str] | None = None,
) -> int:
    """Run one operation from argv and return the process exit code.

    ``settings``: the environment settings checked before any operation runs
    (`protocol.settings`); an invalid one is exit 1 naming the valid values.
    ``log_env``: the variable naming the file that gets one line per op (`protocol.oplog`),
    ``correlation`` the op's id there (default: `protocol.oplog.op_id`). Every op gc calls
    is also counted when ``$GC_METRICS_DIR`` is set (`protocol.metrics`)."""
    began = time.monotonic()
    argv = list(sys.argv[1:] if argv is None else argv)
    if sys.stdin is None or sys.stdout is None or sys.stderr is None:
        open_closed_stdio()
    if not argv:
        sys.stderr.write(f"{exe}: usage: {exe} <operation> [arguments] (try --help)\n")
        return 1
    op = argv[0]
    if op in ("-h", "--help", "help"):
        write_out(help_text(exe, table, about))
        return 0
    if op == "--version":
        write_out(f"{exe} {version}".rstrip())
        return 0
    spec = table.get(op)
    if spec is not None and not spec.human and argv[1:] in (["--help"], ["-h"]):
        # Safe: no argument gc passes starts with '-' (names, keys and prefixes are validated).
        write_out(op_help(exe, op, spec))
        return 0
    code, failure = 0, ""
    try:
        if spec is None:
            raise UnknownOperation(op)
        if settings:
            from protocol.settings import check

            check(settings)
        if spec.human:
            call = Call(exe, op, {}, argv[1:])
        else:
            call = bind(op, spec, argv[1:], validators)
            call.exe = exe
        write_out(spec.handler(call))
    except (Exception, KeyboardInterrupt) as error:  # every outcome maps in `fail`
        code, failure = int(fail(exe, op, error)), type(error).__name__
    if spec is None or spec.observed:
        observe(exe, op if spec else "unknown", argv[1:2], code, time.monotonic() - began,
                failure, log_env, correlation)
    return code


def observe(exe: str, op: str, args: list[str], code: int, seconds: float, failure: str,
            log_env: str, correlation: Callable[[], str] | None,
            environ: Mapping[str, str] | None = None, *, counted: Registry | None = None,
            notes: Mapping[str, str | int] | None = None) -> None:
    """Count the op (``$GC_METRICS_DIR``) and log its line (``$<log_env>``); both opt-in,
    neither ever fails the op. ``args``: the op's first argument (the session's name),
    logged only when it is a valid name. ``environ``: the caller's environment (the helper,
    answering a client's op, passes the client's, with ``counted``: what it counted for
    that op, folded instead of its own counts, and the op line's ``notes``); this
    process's by default."""
    env = os.environ if environ is None else environ
    if env.get("GC_METRICS_DIR"):
        from protocol import metrics

        reg = metrics.Registry()
        metrics.op_done(exe, op, code, seconds, reg)
        if counted is not None:
            reg.add(counted)
        metrics.flush(env, reg, exe, own=counted is None)
    path = env.get(log_env) if log_env else ""
    if path:
        from protocol import oplog
        from protocol.names import MAX_NAME, SESSION_CHARS

        first = args[0] if args and op != "unknown" else ""
        session = (first if first[:1] != "-" and len(first) <= MAX_NAME
                   and SESSION_CHARS.issuperset(first) else "")
        oplog.append(path, oplog.line(exe, op, session, code, seconds, env,
                                      correlation() if correlation else "", failure, notes))


def main(
    exe: str,
    table: Mapping[str, Operation],
    validators: Mapping[str, Validator],
    *,
    about: str = "",
    version: str = "",
    settings: Mapping[str, Setting] | None = None,
    log_env: str = "",
    correlation: Callable[[], str] | None = None,
) -> None:
    """Entry point for an executable script: run and exit."""
    code = run(exe, table, validators, about=about, version=version, settings=settings,
               log_env=log_env, correlation=correlation)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # gc closed the pipe: nothing left to say on it
            pass
    # No interpreter teardown: with the Kubernetes client loaded it costs a loaded machine
    # tenths of a second, and an interrupted start must be gone within gc's 2 s to SIGKILL.
    # Everything that must outlive the op (files, a detached delete) is done by now.
    os._exit(code)
