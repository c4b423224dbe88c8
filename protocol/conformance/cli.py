"""``gc-provider-conformance``: the kit's command line (the only module importing typer).

On a terminal, stderr shows one line per check as it finishes (colour unless
``NO_COLOR``); the report follows on stdout, ending with the FAILed IDs, the
fix for each and the command that reruns just them (``--last-failed`` reads
the rerun file every run writes). Ctrl-C stops every session the kit started
and still reports what finished. Sessions it could not stop are named on
stderr (and in ``--json``).
"""

from __future__ import annotations

import shutil
import sys
import threading
from typing import Annotated

import typer

from protocol.conformance import lastfailed
from protocol.conformance.context import Options
from protocol.conformance.hints import hint
from protocol.conformance.model import Status
from protocol.conformance.registry import Unit
from protocol.conformance.report import (
    SuiteResult,
    progress_line,
    render_failures,
    render_json,
    render_junit,
    render_text,
    rerun_command,
    use_color,
)
from protocol.conformance.runner import matches, select
from protocol.conformance.session import Run, RunInterrupted, parse_env, resolve, run, terminate_as_interrupt

#: Help is plain text wrapped to the terminal (80 columns fit): no rich boxes cutting long option names.
app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


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
        str | None,
        typer.Argument(
            help="The provider executable: a path, or a name looked up on PATH as gc does for exec:<name>.",
            show_default=False,
            metavar="EXECUTABLE",
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", metavar="KEY=VALUE", help="KEY=VALUE added to every op's environment (repeatable)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="ID|SUITE|GLOB",
            help="A suite (check, rpp, runtimetest, strict, env, beads), part of a check ID (USAGE-004) "
            "or a glob ('GC-STRICT-*'); repeatable.",
        ),
    ] = None,
    beads: Annotated[
        bool,
        typer.Option("--beads", help="The executable is an exec beads store: run the beads suite."),
    ] = False,
    cold_start_threshold_ms: Annotated[
        float | None,
        typer.Option(
            "--cold-start-threshold-ms", metavar="MS", help="FAIL hot ops whose median exceeds MS milliseconds."
        ),
    ] = None,
    session_prefix: Annotated[
        str, typer.Option("--session-prefix", metavar="PREFIX", help="Prefix of every session name the kit creates.")
    ] = "",
    workers: Annotated[int, typer.Option("--workers", metavar="N", help="Checks run in parallel.")] = 4,
    backing_name_command: Annotated[
        str,
        typer.Option(
            "--backing-name-command",
            metavar="COMMAND",
            help="Shell command printing the backing object's name(s) of session $1 (a pod): "
            "GC-STRICT-ISOLATION-003 tries each as a session name.",
        ),
    ] = "",
    relative_env: Annotated[
        list[str] | None,
        typer.Option(
            "--relative-env",
            metavar="KEY=PATH",
            help="KEY=VALUE whose value is a path relative to the caller's directory: "
            "GC-STRICT-ISOLATION-004 runs ops with it from two directories (repeatable).",
        ),
    ] = None,
    caller_dir: Annotated[
        list[str] | None,
        typer.Option(
            "--caller-dir",
            metavar="DIR",
            help="Give twice: the two directories of GC-STRICT-ISOLATION-004 (default: two fresh ones).",
        ),
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="Print the selected check IDs and titles; run nothing.")
    ] = False,
    last_failed: Annotated[
        bool,
        typer.Option("--last-failed", "--lf", help="Run only the checks that FAILed in this provider's last run."),
    ] = False,
    junit_xml: Annotated[
        str | None, typer.Option("--junit-xml", metavar="PATH", help="Also write a JUnit XML report to PATH.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show every line of each detail (default: the first).")
    ] = False,
    no_preflight: Annotated[
        bool,
        typer.Option("--no-preflight", help="Run the checks even if a first test start fails."),
    ] = False,
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

    Exit 0 when nothing FAILs (SKIPs never fail a run), 1 otherwise, 130 when
    interrupted. Every run records its FAILed IDs for --last-failed in
    $XDG_STATE_HOME/gc-provider-conformance (default ~/.local/state).
    """
    if workers < 1:
        raise _fail(f"--workers must be at least 1, got {workers}")
    try:
        extra_env = parse_env(env or [])
        relative = tuple(parse_env(relative_env or []).items())
        shown = resolve(executable) if executable is not None else ""
    except ValueError as exc:
        raise _fail(str(exc)) from None
    wanted = list(only or [])
    if last_failed:
        if executable is None:
            raise _fail("--last-failed needs the provider executable")
        recorded = lastfailed.load(shown, beads)
        if wanted:  # --only narrows the recorded failures
            recorded = [code for code in recorded if any(matches(w, "", code) for w in wanted)]
        if recorded:
            wanted = recorded
        else:
            typer.echo("gc-provider-conformance: no failed checks recorded for this provider; running "
                       + ("the --only selection" if wanted else "all"), err=True)
    selected = select(wanted, beads)
    if list_only:
        list_checks(selected)
        raise typer.Exit(0)
    if executable is None:
        raise _fail("missing the provider executable (see --help)")
    total = sum(len(unit.specs) for unit in selected)
    live = Progress(total, sys.stderr.isatty() if progress is None else progress)
    options = Options(session_prefix, cold_start_threshold_ms, workers, backing_name_command, relative,
                      tuple(caller_dir or ()), preflight=not no_preflight)
    try:
        with terminate_as_interrupt():
            outcome = run(executable, extra_env, wanted, beads, options, on_result=live)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except RunInterrupted as stop:
        outcome = stop.run
    extra = ["--cold-start-threshold-ms", f"{cold_start_threshold_ms:g}"] if cold_start_threshold_ms else []
    failed = [row.result.code for row in outcome.rows if row.result.status is Status.FAIL]
    rerun = rerun_command(executable, failed, env=extra_env, beads=beads, extra=extra)
    if not outcome.preflight:
        try:
            lastfailed.update(shown, beads, (row.result.code for row in outcome.rows), failed)
        except OSError as exc:
            typer.echo(f"gc-provider-conformance: could not record failed checks for --last-failed: {exc}",
                       err=True)
    report(shown, outcome, rerun, json_output, total, verbose)
    if junit_xml:
        try:
            with open(junit_xml, "wb") as out:
                out.write(render_junit(shown, outcome.rows, outcome.durations, outcome.preflight))
        except OSError as exc:
            raise _fail(f"--junit-xml {junit_xml}: {exc.strerror or exc}") from None
    if outcome.interrupted:
        raise typer.Exit(130)
    raise typer.Exit(1 if failed or outcome.preflight else 0)


def list_checks(units: list[Unit]) -> None:
    """``--list``: one ``ID  title`` line per selected check, in run order."""
    specs = [spec for unit in units for spec in unit.specs]
    width = max((len(spec.code) for spec in specs), default=0)
    for spec in specs:
        typer.echo(f"{spec.code:<{width}}  {spec.title}")


def report(shown: str, outcome: Run, rerun: str, json_output: bool, total: int, verbose: bool = False) -> None:
    """The report on stdout; the closing list goes to stderr too when stdout is JSON on a terminal."""
    closing = render_failures(outcome.rows, rerun, use_color(sys.stdout) and not json_output)
    if json_output:
        sys.stdout.write(render_json(shown, outcome.kit.handshake, outcome.rows, outcome.durations,
                                     kit_version=kit_version(), interrupted=outcome.interrupted,
                                     preflight=outcome.preflight, unstopped=outcome.unstopped))
        if closing and sys.stderr.isatty():
            sys.stderr.write(render_failures(outcome.rows, rerun, use_color(sys.stderr)))
    elif not outcome.preflight:
        sys.stdout.write(render_text(shown, outcome.rows, use_color(sys.stdout), verbose) + closing)
    sys.stdout.flush()
    if outcome.preflight:
        fix = hint("", outcome.preflight)
        typer.echo(f"gc-provider-conformance: preflight failed, no checks run: {outcome.preflight}"
                   + (f"\nfix: {fix}" if fix else ""), err=True)
    for name, said in outcome.unstopped:
        typer.echo(f"gc-provider-conformance: could not stop session {name!r}: {said}", err=True)
    if outcome.interrupted:
        stopped = "sessions stopped" if not outcome.unstopped else "other sessions stopped"
        typer.echo(f"gc-provider-conformance: interrupted after {len(outcome.rows)} of {total} checks; {stopped}",
                   err=True)


def main() -> None:
    app()
