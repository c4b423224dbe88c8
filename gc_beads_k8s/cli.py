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
from protocol.dispatch import Operation, run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.dispatch import Call

EXE = "gc-beads-k8s"
VERSION = "0.1.0"
ABOUT = """\
Gas City exec beads store: bd runs in one runner pod per city, one kubectl exec
per store operation. Gas City runs it as GC_BEADS=exec:gc-beads-k8s.

settings (environment; empty means unset):
  GC_K8S_IMAGE                  runner image with sh and bd; required by start and init (default: none)
  GC_K8S_NAMESPACE              namespace of the runner pod (default: gc)
  GC_K8S_CONTEXT                kubeconfig context (default: the current context)
  GC_KUBECTL                    kubectl binary (default: kubectl)
  GC_K8S_REQUEST_TIMEOUT        seconds per API request (default: 15)
  GC_K8S_IMAGE_PULL_SECRET      image pull secret (default: none)
  GC_BEADS_BD                   the bd command inside the pod (default: bd)
  GC_K8S_BEADS_WORKSPACE        scope directories' root in the pod (default: /workspace)
  GC_K8S_RUNNER_UID             runner uid, or 'image' for the image's user (default: 1000)
  GC_K8S_RUNNER_GID             runner gid, or 'image' for the image's group (default: 1000)
  GC_K8S_BEADS_CPU_REQUEST      runner CPU request (default: 100m)
  GC_K8S_BEADS_MEM_REQUEST      runner memory request (default: 128Mi)
  GC_K8S_BEADS_CPU_LIMIT        runner CPU limit (default: 500m)
  GC_K8S_BEADS_MEM_LIMIT        runner memory limit (default: 512Mi)
  GC_K8S_BEADS_RUNNER_POD       runner pod name (default: derived from the city path)
  GC_K8S_BEADS_SERVICE_ACCOUNT  runner service account (default: the namespace's default)
  GC_K8S_DOLT_SECRET            secret with the Dolt credentials (default: none)
  GC_DOLT_HOST                  Dolt host for init, with GC_DOLT_PORT (default: GC_K8S_DOLT_HOST)
  GC_DOLT_PORT                  Dolt port for init (default: GC_K8S_DOLT_PORT)
  GC_K8S_DOLT_HOST              Dolt host when GC_DOLT_HOST is unset (default: dolt.gc.svc.cluster.local)
  GC_K8S_DOLT_PORT              Dolt port when GC_DOLT_PORT is unset (default: 3307)
  GC_K8S_CUSTOM_TYPES           extra bead types, comma-separated; or GC_BEADS_CUSTOM_TYPES (default: none)
  GC_BEADS_CUSTOM_TYPES         same as GC_K8S_CUSTOM_TYPES, read when that is unset (default: none)
  GC_PROVIDER_DEBUG             1: print a traceback with an internal error (default: unset)"""


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


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return run(EXE, TABLE, VALIDATORS, args, about=ABOUT, version=VERSION)
