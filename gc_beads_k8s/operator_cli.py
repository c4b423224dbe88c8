"""Commands for people: ``init`` with progress and rollback, ``doctor``.

Arguments are parsed by `protocol.human` (no typer or click: both work from a
plain install). Usage errors exit 1 with one line, never 2, which gc would read
as success.
"""

from __future__ import annotations

import sys

from protocol.errors import ExitWith
from protocol.human import JSON_FLAG, Command, Doctor, Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
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


INIT = Command(
    "gc-beads-k8s init", ("dir", "prefix", "?database"),
    (Flag("--quiet", "-q", "no progress output"),),
    "Initialize a scope's beads store, starting the city's runner pod if needed.",
    "  <dir>       scope root (the city or a rig directory)\n"
    "  <prefix>    issue id prefix of the scope\n"
    "  <database>  Dolt database (default: from the prefix)\n\n"
    "Progress is shown when stdout is a terminal. A failure or Ctrl-C deletes a\n"
    "runner pod this command created.")

DOCTOR = Command(
    "gc-beads-k8s doctor", (), (JSON_FLAG,),
    "Check kubectl, cluster access, RBAC, the image setting and the runner pod; "
    "exit 1 if any check fails.")


def init_command(argv: list[str]) -> None:
    """``init [-q] <dir> <prefix> [<database>]`` as an operator types it."""
    parsed = parse(INIT, argv)
    if parsed is None:
        return
    init_with_rollback(*parsed.args, progress=sys.stdout.isatty() and "--quiet" not in parsed.flags)


def doctor_command(argv: list[str]) -> None:
    parsed = parse(DOCTOR, argv)
    if parsed is None:
        return
    from gc_beads_k8s.doctor import run_doctor

    if not run_doctor(Doctor("--json" in parsed.flags)):
        raise ExitWith(1)
