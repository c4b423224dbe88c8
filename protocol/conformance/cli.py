"""``gc-provider-conformance``: the kit's command line (the only module importing typer)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.report import render_json, render_text
from protocol.conformance.session import parse_env, resolve, run, terminate_as_interrupt

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


@app.command()
def conformance(
    executable: Annotated[str, typer.Argument(help="The provider executable (path or PATH name).")],
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
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the kit's version and exit."),
    ] = False,
) -> None:
    """Run the conformance checks against a Gas City exec provider.

    Exit 0 when nothing FAILs (SKIPs never fail a run), 1 otherwise.
    """
    try:
        extra_env = parse_env(env or [])
    except ValueError as exc:
        typer.echo(f"gc-provider-conformance: {exc}", err=True)
        raise typer.Exit(1) from None
    options = Options(session_prefix, cold_start_threshold_ms, workers)
    try:
        with terminate_as_interrupt():
            outcome = run(executable, extra_env, only or [], beads, options)
    except ValueError as exc:
        typer.echo(f"gc-provider-conformance: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("gc-provider-conformance: interrupted; sessions stopped", err=True)
        raise typer.Exit(130) from None
    shown = resolve(executable)
    if json_output:
        sys.stdout.write(render_json(shown, outcome.kit.handshake, outcome.rows))
    else:
        sys.stdout.write(render_text(shown, outcome.rows))
    failed = any(row.result.status is Status.FAIL for row in outcome.rows)
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    app()
