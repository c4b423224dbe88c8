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
from gc_beads_k8s.settings import TABLE as SETTINGS
from protocol.dispatch import Operation, run
from protocol.observe import observe_operations
from protocol.settings import help_section

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.dispatch import Call

EXE = "gc-beads-k8s"
VERSION = "0.1.0"
ABOUT = f"""\
Gas City exec beads store: bd runs in one runner pod per city, one kubectl exec
per store operation. Gas City runs it as GC_BEADS=exec:gc-beads-k8s.

{help_section(SETTINGS)}"""


# Each handler imports its module on call, so a store op never loads the lifecycle
# code (the kubernetes client) and `--help` loads neither; plain functions, so type
# checking and go-to-definition reach every handler.
def op_create(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.create(call)


def op_get(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.get(call)


def op_update(call: Call) -> None:
    from gc_beads_k8s import store

    store.update(call)


def op_close(call: Call) -> None:
    from gc_beads_k8s import store

    store.close(call)


def op_reopen(call: Call) -> None:
    from gc_beads_k8s import store

    store.reopen(call)


def op_list_beads(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.list_beads(call)


def op_ready(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.ready(call)


def op_children(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.children(call)


def op_list_by_label(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.list_by_label(call)


def op_set_metadata(call: Call) -> None:
    from gc_beads_k8s import store

    store.set_metadata(call)


def op_delete(call: Call) -> None:
    from gc_beads_k8s import store

    store.delete(call)


def op_dep_add(call: Call) -> None:
    from gc_beads_k8s import store

    store.dep_add(call)


def op_dep_remove(call: Call) -> None:
    from gc_beads_k8s import store

    store.dep_remove(call)


def op_dep_list(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.dep_list(call)


def op_config_set(call: Call) -> None:
    from gc_beads_k8s import store

    store.config_set(call)


def op_purge(call: Call) -> str | bytes | None:
    from gc_beads_k8s import store

    return store.purge(call)


def op_start(call: Call) -> None:
    from gc_beads_k8s import lifecycle

    lifecycle.start(call)


def op_init(call: Call) -> None:
    from gc_beads_k8s import lifecycle

    lifecycle.init(call)


def op_health(call: Call) -> None:
    from gc_beads_k8s import lifecycle

    lifecycle.health(call)


def op_probe(call: Call) -> None:
    from gc_beads_k8s import lifecycle

    lifecycle.probe(call)


def op_recover(call: Call) -> None:
    from gc_beads_k8s import lifecycle

    lifecycle.recover(call)


def op_stop(call: Call) -> None:
    from gc_beads_k8s import lifecycle

    lifecycle.stop(call)


def op_doctor(call: Call) -> None:
    from gc_beads_k8s import lifecycle

    lifecycle.doctor(call)


TABLE: dict[str, Operation] = {
    "create": Operation(op_create, (), stdin="createRequest JSON",
                        summary="create a bead; prints it"),
    "get": Operation(op_get, ("id",), summary="print one bead"),
    "update": Operation(op_update, ("id",), stdin="updateRequest JSON"),
    "close": Operation(op_close, ("id",), summary="idempotent"),
    "reopen": Operation(op_reopen, ("id",)),
    "list": Operation(op_list_beads, ("?*filter",),
                      summary="[--status=S] [--assignee=A] [--type=T] [--limit=N]; closed included"),
    "ready": Operation(op_ready, ("?*flag",),
                       summary="[--include-ephemeral]"),
    "children": Operation(op_children, ("id",)),
    "list-by-label": Operation(op_list_by_label, ("label", "?limit")),
    "set-metadata": Operation(op_set_metadata, ("id", "key"), stdin="raw value"),
    "delete": Operation(op_delete, ("*args",), summary="delete --force <id>"),
    "dep-add": Operation(op_dep_add, ("id", "depends_on", "dep_type")),
    "dep-remove": Operation(op_dep_remove, ("id", "depends_on")),
    "dep-list": Operation(op_dep_list, ("id", "direction"),
                          summary="direction: down, up or ''"),
    "config-set": Operation(op_config_set, ("key", "value")),
    "purge": Operation(op_purge, ("beads_dir",), stdin='{"dry_run": bool}'),
    "start": Operation(op_start, (), summary="create or adopt the runner pod"),
    "ensure-ready": Operation(op_start, (), summary="alias of start"),
    "init": Operation(op_init, ("dir", "prefix", "?database"), human=True,
                      summary="initialize a scope (progress on a terminal)"),
    "health": Operation(op_health, ()),
    "probe": Operation(op_probe, (), summary="exit 2 when the runner is not running"),
    "recover": Operation(op_recover, (), summary="replace the runner pod"),
    "stop": Operation(op_stop, (), summary="delete the runner pod"),
    "shutdown": Operation(op_stop, (), summary="alias of stop"),
    "doctor": Operation(op_doctor, (), human=True, summary="check the setup"),
    **observe_operations("GC_K8S_AUDIT_LOG"),
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


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from providers.kube import audit

    return run(EXE, TABLE, VALIDATORS, args, about=ABOUT, version=VERSION,
               settings=SETTINGS, log_env="GC_K8S_AUDIT_LOG",
               correlation=audit.correlation_id)
