"""``gc-provider-conformance``: the kit's command line (the only module importing typer).

On a terminal, stderr shows one line per check as it finishes (colour unless
``NO_COLOR``); the report follows on stdout, ending with the FAILed IDs, the
usual fix for each and the ``--only`` command that reruns just them. Ctrl-C
stops every session the kit started and still reports what finished.
"""

from __future__ import annotations

import shutil
import sys
import threading
from typing import Annotated

import typer

from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.report import (
    SuiteResult,
    progress_line,
    render_failures,
    render_json,
    render_text,
    rerun_command,
    use_color,
)
from protocol.conformance.runner import select
from protocol.conformance.session import Run, RunInterrupted, parse_env, resolve, run, terminate_as_interrupt

app = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})


def kit_version() -> str:
    """The installed distribution's version (the kit ships with the providers)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gc-session-providers")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gc-provider-conformance {kit_version()}")
        raise typer.Exit(0)


class Progress:
    """Live lines on stderr, one per finished check (only when stderr is a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.color = enabled and use_color(sys.stderr)
        self.width = shutil.get_terminal_size((100, 24)).columns
        self.done = 0
        self.lock = threading.Lock()

    def __call__(self, row: SuiteResult, seconds: float) -> None:
        with self.lock:
            self.done += 1
            if self.enabled:
                sys.stderr.write(progress_line(self.done, self.total, row, seconds, self.color, self.width) + "\n")
                sys.stderr.flush()


def _fail(message: str) -> typer.Exit:
    typer.echo(f"gc-provider-conformance: {message}", err=True)
    return typer.Exit(1)


@app.command()
def conformance(
    executable: Annotated[
        str,
        typer.Argument(help="The provider executable: a path, or a name looked up on PATH as gc does for exec:<name>."),
    ],
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="KEY=VALUE added to every op's environment (repeatable)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Suite (check, rpp, runtimetest, strict, beads) or check-ID prefix; repeatable.",
        ),
    ] = None,
    beads: Annotated[
        bool,
        typer.Option("--beads", help="The executable is an exec beads store: run the beads suite."),
    ] = False,
    cold_start_threshold_ms: Annotated[
        float | None,
        typer.Option("--cold-start-threshold-ms", help="FAIL hot ops whose median exceeds N ms."),
    ] = None,
    session_prefix: Annotated[
        str, typer.Option("--session-prefix", help="Prefix of every session name the kit creates.")
    ] = "",
    workers: Annotated[int, typer.Option("--workers", help="Checks run in parallel.")] = 4,
    backing_name_command: Annotated[
        str,
        typer.Option(
            "--backing-name-command",
            help="Shell command printing the backing object's name(s) of session $1 (a pod): "
            "GC-STRICT-ISOLATION-003 tries each as a session name.",
        ),
    ] = "",
    relative_env: Annotated[
        list[str] | None,
        typer.Option(
            "--relative-env",
            help="KEY=VALUE whose value is a path relative to the caller's directory: "
            "GC-STRICT-ISOLATION-004 runs ops with it from two directories (repeatable).",
        ),
    ] = None,
    caller_dir: Annotated[
        list[str] | None,
        typer.Option(
            "--caller-dir",
            help="Give twice: the two directories of GC-STRICT-ISOLATION-004 (default: two fresh ones).",
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Live lines on stderr (default: when stderr is a terminal)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the kit's version and exit."),
    ] = False,
) -> None:
    """Run the conformance checks against a Gas City exec provider.

    Exit 0 when nothing FAILs (SKIPs never fail a run), 1 otherwise, 130 when interrupted.
    """
    try:
        extra_env = parse_env(env or [])
        relative = tuple(parse_env(relative_env or []).items())
        shown = resolve(executable)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    selected = select(only or [], beads)
    total = sum(len(unit.specs) for unit in selected)
    live = Progress(total, sys.stderr.isatty() if progress is None else progress)
    options = Options(session_prefix, cold_start_threshold_ms, workers, backing_name_command, relative,
                      tuple(caller_dir or ()))
    try:
        with terminate_as_interrupt():
            outcome = run(executable, extra_env, only or [], beads, options, on_result=live)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except RunInterrupted as stop:
        outcome = stop.run
    extra = ["--cold-start-threshold-ms", f"{cold_start_threshold_ms:g}"] if cold_start_threshold_ms else []
    failed = [row.result.code for row in outcome.rows if row.result.status is Status.FAIL]
    rerun = rerun_command(executable, failed, env=extra_env, beads=beads, extra=extra)
    report(shown, outcome, rerun, json_output, total)
    if outcome.interrupted:
        raise typer.Exit(130)
    raise typer.Exit(1 if failed else 0)


def report(shown: str, outcome: Run, rerun: str, json_output: bool, total: int) -> None:
    """The report on stdout; the closing list goes to stderr too when stdout is JSON on a terminal."""
    closing = render_failures(outcome.rows, rerun, use_color(sys.stdout) and not json_output)
    if json_output:
        sys.stdout.write(render_json(shown, outcome.kit.handshake, outcome.rows, outcome.durations,
                                     kit_version=kit_version(), interrupted=outcome.interrupted))
        if closing and sys.stderr.isatty():
            sys.stderr.write(render_failures(outcome.rows, rerun, use_color(sys.stderr)))
    else:
        sys.stdout.write(render_text(shown, outcome.rows, use_color(sys.stdout)) + closing)
    sys.stdout.flush()
    if outcome.interrupted:
        typer.echo(f"gc-provider-conformance: interrupted after {len(outcome.rows)} of {total} checks; "
                   "sessions stopped", err=True)


def main() -> None:
    app()
