"""Handlers of the lifecycle operations (start, stop, init, health, probe, recover)."""

from __future__ import annotations

import sys

from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.dispatch import Call


def start(call: Call) -> None:
    from gc_beads_k8s import runner_pod

    runner_pod.start()


def stop(call: Call) -> None:
    from gc_beads_k8s import runner_pod

    runner_pod.stop()


def health(call: Call) -> None:
    from gc_beads_k8s import runner_pod

    runner_pod.health()


def probe(call: Call) -> None:
    from gc_beads_k8s import runner_pod

    runner_pod.probe()


def recover(call: Call) -> None:
    from gc_beads_k8s import runner_pod

    runner_pod.recover()


def init(call: Call) -> None:
    """``init <dir> <prefix> [db]``: gc's call and the operator's are the same.

    Options (``--help``, ``--quiet``) go through the operator's parser; plain
    positional calls skip it. Progress is printed only when stdout is a terminal, and a failure
    or Ctrl-C removes a runner pod this call created.
    """
    if any(arg.startswith("-") for arg in call.rest):
        from gc_beads_k8s.operator_cli import init_command

        init_command(call.rest)
        return
    if len(call.rest) not in (2, 3):
        raise UsageError("usage: init <dir> <prefix> [<database>]")
    from gc_beads_k8s.operator_cli import init_with_rollback

    init_with_rollback(*call.rest, progress=sys.stdout.isatty())


def doctor(call: Call) -> None:
    from gc_beads_k8s.operator_cli import doctor_command

    doctor_command(call.rest)
