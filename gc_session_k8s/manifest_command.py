"""`gc-session-k8s manifest <name>`: the pod a start would create, without a cluster."""

from __future__ import annotations

import sys

from protocol import names
from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def manifest(argv: Sequence[str]) -> str:
    import orjson

    from gc_session_k8s.settings import Settings
    from gc_session_k8s.start import Plan
    from protocol.config import parse_start_config

    usage = "usage: gc-session-k8s manifest <name>  < start config JSON"
    if list(argv) in (["-h"], ["--help"]):
        return usage + "\n  print the pod a start would create; touches no cluster"
    if len(argv) != 1:
        raise UsageError(usage)
    name = names.session_name(argv[0])
    raw = b"" if sys.stdin.isatty() else sys.stdin.buffer.read()
    plan = Plan(name, parse_start_config(raw), Settings.from_env())
    plan.manifest["metadata"]["annotations"].pop("gc-start-id", None)
    return orjson.dumps(plan.manifest, option=orjson.OPT_INDENT_2).decode()
