"""The store operations: each is one ``bd`` call in the runner pod.

Every non-zero bd status becomes exit 1 (never 2, which gc would read as
success), with bd's own message; "not found" appears only when the bead is
missing. Read results are validated as JSON (kubectl can exit 0 on a kubelet
restart with no output).

The bd command lines (checked against the bd 1.1.0 sources; ``--json`` is a
persistent root flag, cmd/bd/main.go; every flag is in the fake bd's table):

- get: ``show --json <id>``; create/update: see `wire`;
- close: ``close --force --json <id>`` (``-f``: also closes past open children
  and blockers, as gc's close is unconditional); reopen: ``reopen --json <id>``;
- list/children/list-by-label: ``list --json --all --limit=0 --include-infra
  --include-gates [--type= --assignee= --label=]``;
- ready: ``ready --json --limit=0 [--include-ephemeral]`` (ready has no
  ``--include-infra``; gc's own filter drops those types anyway);
- set-metadata: ``update --json <id> --metadata={"k":"v"}`` (merges, keeps the
  value a string; ``--set-metadata`` limits keys and, before GH#4146, inferred types);
- delete: ``delete --force --json <id>`` (without ``--force`` bd only previews);
- dep-add/-remove/-list: ``dep add <a> <b> --type=T``, ``dep remove <a> <b>``,
  ``dep list <id> --direction=down|up``;
- config-set: ``config set -- <key> <value>``;
- purge: ``purge --json --dry-run|--force``.
"""

from __future__ import annotations

from typing import Any

import orjson

from gc_beads_k8s import wire
from gc_beads_k8s.bd import Target, bd_message, config_set_args, is_not_found, run_bd
from gc_beads_k8s.store_target import store_target
from gc_beads_k8s.validate import bead_id, direction, label, limit
from protocol.errors import ProviderError, UsageError
from protocol.proc import Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.dispatch import Call

Obj = dict[str, Any]
LIST_ALL = ["list", "--json", "--all", "--limit=0", "--include-infra", "--include-gates"]


UNINITIALIZED = ("is not initialized", "no beads database found")


def _uninitialized(result: Result) -> bool:
    low = result.err.decode("utf-8", "replace").lower()
    return any(words in low for words in UNINITIALIZED)


def _bd(target: Target, op: str, args: list[str], *, bead: str = "", read: bool = False,
        stdin: bytes | None = None) -> bytes:
    result = run_bd(target, args, stdin=stdin, retry=read)
    if result.rc != 0 and _uninitialized(result):
        from gc_beads_k8s.scope_init import heal

        if heal(target):  # the pod was recreated: re-init this scope as recorded, once
            result = run_bd(target, args, stdin=stdin, retry=read)
    if result.rc != 0:
        if bead and is_not_found(result):
            raise ProviderError(f"bead {bead} not found")
        raise ProviderError(f"{op}: {bd_message(result)}")
    return result.out


def _dump(data: object) -> bytes:
    return orjson.dumps(data)


def _show(target: Target, op: str, ident: str) -> Obj:
    found = wire.issues(_bd(target, op, ["show", "--json", ident], bead=ident, read=True), op)
    if not found:
        raise ProviderError(f"bead {ident} not found")
    return found[0]


def _all(target: Target, op: str, extra: list[str] | None = None) -> list[Obj]:
    raw = _bd(target, op, [*LIST_ALL, *(extra or [])], read=True)
    return [wire.to_bead(issue) for issue in wire.issues(raw, op)]


def create(call: Call) -> bytes:
    request = wire.parse_object(wire.read_stdin(call), "create")
    flags = wire.create_flags(request)
    target = store_target()
    found = wire.issues(_bd(target, "create", ["create", "--json", *flags],
                            stdin=wire.flag_stdin(flags)), "create")
    if not found or not found[0].get("id"):
        raise ProviderError("create: bd returned no issue")
    return _dump(wire.merge_request(wire.to_bead(found[0]), request))


def get(call: Call) -> bytes:
    return _dump(wire.to_bead(_show(store_target(), "get", call["id"])))


def update(call: Call) -> None:
    ident = call["id"]
    flags = wire.update_flags(wire.parse_object(wire.read_stdin(call), "update"))
    target = store_target()
    if not flags:
        _show(target, "update", ident)  # an empty update still reports a missing bead
        return
    _bd(target, "update", ["update", "--json", ident, *flags], bead=ident,
        stdin=wire.flag_stdin(flags))


def close(call: Call) -> None:
    ident = call["id"]
    target = store_target()
    result = run_bd(target, ["close", "--force", "--json", ident])
    if result.rc != 0:
        if is_not_found(result):
            raise ProviderError(f"bead {ident} not found")
        if "already closed" not in bd_message(result).lower():
            raise ProviderError(f"close: {bd_message(result)}")


def reopen(call: Call) -> None:
    ident = call["id"]
    target = store_target()
    result = run_bd(target, ["reopen", "--json", ident])
    if result.rc != 0:
        if is_not_found(result):
            raise ProviderError(f"bead {ident} not found")
        message = bd_message(result).lower()
        if "already open" not in message and "not closed" not in message:
            raise ProviderError(f"reopen: {bd_message(result)}")


def _flag_value(token: str, name: str) -> str | None:
    if token.startswith(f"--{name}="):
        return token[len(name) + 3 :]
    return None


def list_beads(call: Call) -> bytes:
    """``list [--status=S] [--assignee=A] [--type=T] [--limit=N]`` (closed included)."""
    filters: dict[str, str] = {}
    for token in call.rest:
        for name in ("status", "assignee", "type", "limit"):
            value = _flag_value(token, name)
            if value is not None:
                filters[name] = value
                break
        else:
            raise UsageError(f"list: unknown argument {token[:40]!r}")
    extra = []
    if filters.get("type"):
        extra.append(f"--type={filters['type']}")
    if filters.get("assignee"):
        extra.append(f"--assignee={filters['assignee']}")
    beads = _all(store_target(), "list", extra)
    if filters.get("status"):
        beads = [b for b in beads if b["status"] == filters["status"]]
    if filters.get("type"):
        beads = [b for b in beads if b["type"] == filters["type"]]
    if filters.get("assignee"):
        beads = [b for b in beads if b.get("assignee") == filters["assignee"]]
    count = int(limit(filters.get("limit", "0")))
    return _dump(beads[:count] if count else beads)


def ready(call: Call) -> bytes:
    """Open, unblocked beads; ephemeral ones only with ``--include-ephemeral``."""
    ephemeral = False
    for token in call.rest:
        if token != "--include-ephemeral":
            raise UsageError(f"ready: unknown argument {token[:40]!r}")
        ephemeral = True
    args = ["ready", "--json", "--limit=0"] + (["--include-ephemeral"] if ephemeral else [])
    target = store_target()
    raw = _bd(target, "ready", args, read=True)
    beads = [wire.to_bead(issue) for issue in wire.issues(raw, "ready")]
    return _dump([
        b for b in beads
        if b["status"] == "open" and b["type"] not in wire.NOT_READY_TYPES
        and (ephemeral or not b.get("ephemeral"))
    ])


def children(call: Call) -> bytes:
    parent = call["id"]
    beads = [b for b in _all(store_target(), "children") if b.get("parent_id") == parent]
    beads.sort(key=lambda b: (str(b.get("created_at", "")), str(b["id"])))
    return _dump(beads)


def list_by_label(call: Call) -> bytes:
    wanted = label(call["label"])
    count = int(limit(call["limit"] or "0"))
    beads = _all(store_target(), "list-by-label", [f"--label={wire.csv_field(wanted)}"])
    beads = [b for b in beads if wanted in b["labels"]]
    return _dump(beads[:count] if count else beads)


def set_metadata(call: Call) -> None:
    ident, key = call["id"], call["key"]
    value = wire.read_stdin(call).decode("utf-8", "replace")
    if "\0" in value:
        raise UsageError("set-metadata: the value contains a NUL byte, which bd cannot store")
    meta = "--metadata=" + orjson.dumps({key: value}).decode()
    _bd(store_target(), "set-metadata", ["update", "--json", ident, meta], bead=ident)


def delete(call: Call) -> None:
    """``delete --force <id>`` (``--force`` is gc's literal token; it is optional here)."""
    ids = [t for t in call.rest if t != "--force"]
    if len(ids) != 1:
        raise UsageError("usage: delete --force <id>")
    ident = bead_id(ids[0])
    _bd(store_target(), "delete", ["delete", "--force", "--json", ident], bead=ident)


def dep_add(call: Call) -> None:
    issue, on, kind = call["id"], call["depends_on"], call["dep_type"]
    _bd(store_target(), "dep-add", ["dep", "add", issue, on, f"--type={kind}", "--json"])


def dep_remove(call: Call) -> None:
    """Removing a dependency that does not exist succeeds."""
    issue, on = call["id"], call["depends_on"]
    result = run_bd(store_target(), ["dep", "remove", issue, on, "--json"])
    if result.rc != 0:
        message = bd_message(result)
        if "dependency" in message.lower() and (is_not_found(result) or "does not exist"
                                                in message.lower()):
            return
        if is_not_found(result) and (issue in message or on in message):
            return  # a deleted bead's dependencies went with it: nothing left to remove
        raise ProviderError(f"dep-remove: {message}")


def dep_list(call: Call) -> bytes:
    ident, way = call["id"], direction(call["direction"])
    raw = _bd(store_target(), "dep-list",
              ["dep", "list", ident, f"--direction={way}", "--json"], read=True)
    out = []
    for item in wire.issues(raw, "dep-list"):
        if "depends_on_id" in item and "issue_id" in item:
            pair = (str(item["issue_id"]), str(item["depends_on_id"]))
        elif way == "up":
            pair = (str(item.get("id", "")), ident)
        else:
            pair = (ident, str(item.get("id", "")))
        kind = item.get("dependency_type") or item.get("type") or "blocks"
        out.append({"issue_id": pair[0], "depends_on_id": pair[1], "type": kind})
    return _dump(out)


def config_set(call: Call) -> None:
    key, value = call["key"], call["value"]
    _bd(store_target(), "config-set", config_set_args(key, value))


def purge_request(raw: bytes) -> bool:
    """``{"dry_run": true|false}`` exactly (what gc marshals), else a one-line `UsageError`.

    Purge destroys: a request that does not say exactly what it wants (empty stdin, a
    misspelt key, a string ``"true"``, an extra key) is refused, never read as "not a dry
    run"."""
    try:
        data = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as error:
        raise UsageError(f"purge: invalid JSON on stdin: {error}") from None
    if not isinstance(data, dict) or set(data) != {"dry_run"} \
            or not isinstance(data["dry_run"], bool):
        raise UsageError('purge expects exactly {"dry_run": true} or {"dry_run": false} on stdin')
    return data["dry_run"]


def purge(call: Call) -> bytes:
    """``purge <beads-dir>``: stdin ``{"dry_run": bool}`` → ``{"purged_count": N}``."""
    import os

    dry = purge_request(wire.read_stdin(call))
    beads_dir = call["beads_dir"].rstrip("/")
    root = os.path.dirname(beads_dir) if os.path.basename(beads_dir) == ".beads" else beads_dir
    if not root:
        raise UsageError("purge: a beads directory is required")
    target = store_target({**os.environ, "GC_STORE_ROOT": root})
    args = ["purge", "--json"] + (["--dry-run"] if dry else ["--force"])
    raw = _bd(target, "purge", args)
    try:
        data = orjson.loads(raw.strip() or b"{}")
    except orjson.JSONDecodeError:
        data = {}
    count = 0
    if isinstance(data, dict):
        count = int(data.get("purged_count", data.get("purge_count", 0)) or 0)
    return _dump({"purged_count": count})
