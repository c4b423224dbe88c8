"""`gc-beads-k8s <op> [args…]`: the operation table and entry point.

Store ops import `gc_beads_k8s.store` (stdlib, orjson, kubectl); lifecycle
ops import the ``kubernetes`` client only where they create or watch pods;
``doctor`` and ``init`` take their raw argv (``human=True``) because operators add
options (`protocol.human` parses them); gc's plain ``init <dir> <prefix> [db]``
is checked by the handler (exit 1 on bad input).
"""

from __future__ import annotations

import sys

from gc_beads_k8s import validate
from protocol.dispatch import Operation, run, usage_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.dispatch import Call

EXE = "gc-beads-k8s"
VERSION = "0.1.0"
ABOUT = ("Gas City exec beads store: bd runs in one runner pod per city, one kubectl exec "
         "per store operation.")


def _lazy(module: str, name: str):  # type: ignore[no-untyped-def]
    def handler(call: Call) -> str | bytes | None:
        import importlib

        result: str | bytes | None = getattr(importlib.import_module(module), name)(call)
        return result

    return handler


S = "gc_beads_k8s.store"
L = "gc_beads_k8s.lifecycle"

TABLE: dict[str, Operation] = {
    "create": Operation(_lazy(S, "create"), (), stdin="createRequest JSON",
                        summary="create a bead; prints it"),
    "get": Operation(_lazy(S, "get"), ("id",), summary="print one bead"),
    "update": Operation(_lazy(S, "update"), ("id",), stdin="updateRequest JSON"),
    "close": Operation(_lazy(S, "close"), ("id",), summary="idempotent"),
    "reopen": Operation(_lazy(S, "reopen"), ("id",)),
    "list": Operation(_lazy(S, "list_beads"), ("?*filter",),
                      summary="[--status=S] [--assignee=A] [--type=T] [--limit=N]; closed included"),
    "ready": Operation(_lazy(S, "ready"), ("?*flag",),
                       summary="[--include-ephemeral]"),
    "children": Operation(_lazy(S, "children"), ("id",)),
    "list-by-label": Operation(_lazy(S, "list_by_label"), ("label", "?limit")),
    "set-metadata": Operation(_lazy(S, "set_metadata"), ("id", "key"), stdin="raw value"),
    "delete": Operation(_lazy(S, "delete"), ("*args",), summary="delete --force <id>"),
    "dep-add": Operation(_lazy(S, "dep_add"), ("id", "depends_on", "dep_type")),
    "dep-remove": Operation(_lazy(S, "dep_remove"), ("id", "depends_on")),
    "dep-list": Operation(_lazy(S, "dep_list"), ("id", "direction"),
                          summary="direction: down, up or ''"),
    "config-set": Operation(_lazy(S, "config_set"), ("key", "value")),
    "purge": Operation(_lazy(S, "purge"), ("beads_dir",), stdin='{"dry_run": bool}'),
    "start": Operation(_lazy(L, "start"), (), summary="create or adopt the runner pod"),
    "ensure-ready": Operation(_lazy(L, "start"), (), summary="alias of start"),
    "init": Operation(_lazy(L, "init"), ("dir", "prefix", "?database"), human=True,
                      summary="initialize a scope (progress on a terminal)"),
    "health": Operation(_lazy(L, "health"), ()),
    "probe": Operation(_lazy(L, "probe"), (), summary="exit 2 when the runner is not running"),
    "recover": Operation(_lazy(L, "recover"), (), summary="replace the runner pod"),
    "stop": Operation(_lazy(L, "stop"), (), summary="delete the runner pod"),
    "shutdown": Operation(_lazy(L, "stop"), (), summary="alias of stop"),
    "doctor": Operation(_lazy(L, "doctor"), (), human=True, summary="check the setup"),
}

VALIDATORS = {
    "id": validate.bead_id,
    "depends_on": validate.bead_id,
    "dep_type": validate.dep_type,
    "direction": validate.text,
    "key": validate.text,
    "value": validate.text,
    "beads_dir": validate.text,
    "*args": validate.text,
}


def _op_help(op: str) -> str:
    spec = TABLE[op]
    lines = [f"usage: {EXE} {op} {usage_of(spec.args)}".rstrip()]
    if spec.summary:
        lines.append(f"  {spec.summary}")
    if spec.stdin:
        lines.append(f"  stdin: {spec.stdin}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] in TABLE and args[1] in ("--help", "-h"):
        if args[0] in ("init", "doctor"):
            from gc_beads_k8s.operator_cli import DOCTOR, INIT

            sys.stdout.write((INIT if args[0] == "init" else DOCTOR).help())
        else:
            sys.stdout.write(_op_help(args[0]))
        return 0
    return run(EXE, TABLE, VALIDATORS, args, about=ABOUT, version=VERSION)
