"""Commands for people: ``init`` with progress and rollback, ``doctor``.

typer is imported here only, and only for these commands. Usage errors exit 1
with one line (never typer's exit 2, which gc would read as success).
"""

from __future__ import annotations

import sys

from protocol.errors import ExitWith, ProviderError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from gc_beads_k8s.runner_pod import Runner


def _say(message: str) -> None:
    sys.stdout.write(f"gc-beads-k8s: {message}\n")
    sys.stdout.flush()


def init_with_rollback(directory: str, prefix: str, db: str = "", *, progress: bool) -> None:
    """Run `init`; on failure or SIGINT/SIGTERM delete a pod this call created."""
    from gc_beads_k8s import runner_pod, scope_init
    from protocol.rollback import Rollback

    created: list[Runner] = []
    with Rollback() as undo:
        def remember(made: Runner) -> None:
            created.append(made)
            undo.add(f"delete runner pod {made.pod}", lambda: runner_pod.delete_and_wait(made, 10.0))

        try:
            state = scope_init.init_scope(directory, prefix, db, progress=_say if progress else
                                      runner_pod.noop, on_created=remember)
        except BaseException:
            if progress and created:
                _say(f"rolling back: deleting runner pod {created[0].pod}")
            raise
        undo.commit()
    if progress:
        _say(f"ok: scope {directory} initialized ({state})")


def _app() -> Any:
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                      rich_markup_mode=None, no_args_is_help=True,
                      help="gc-beads-k8s: Gas City beads store in a Kubernetes runner pod.")

    @app.command("init")
    def init_command(
        directory: str = typer.Argument(..., help="Scope root (the city or a rig directory)."),
        prefix: str = typer.Argument(..., help="Issue id prefix of the scope."),
        database: str = typer.Argument("", help="Dolt database (default: from the prefix)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    ) -> None:
        """Initialize a scope's beads store, starting the city's runner pod if needed.

        Progress is shown when stdout is a terminal. A failure or Ctrl-C deletes
        a runner pod this command created.
        """
        init_with_rollback(directory, prefix, database,
                           progress=sys.stdout.isatty() and not quiet)

    @app.command("doctor")
    def doctor_command() -> None:
        """Check kubectl, cluster access, RBAC, the image setting and the runner pod."""
        from gc_beads_k8s.doctor import run_doctor

        if not run_doctor(_say):
            raise ExitWith(1)

    return app


def run_typer(argv: list[str]) -> None:
    """Run the typer app without letting it exit 2 or print boxes."""
    import click

    app = _app()
    try:
        app(args=argv, prog_name="gc-beads-k8s", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError:
        return
    except click.exceptions.UsageError as error:
        raise UsageError(error.format_message()) from None
    except click.exceptions.Abort:
        raise ProviderError("aborted") from None
    except click.exceptions.Exit as done:
        if done.exit_code:
            raise ExitWith(1) from None
