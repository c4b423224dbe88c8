"""A file-backed exec beads store for the kit's own tests; BREAK=<mode> breaks one rule.

One ``<id>.json`` per bead under ``$GC_STORE_ROOT``. Run it through a tiny sh
wrapper (the tests write one) so it uses the test interpreter.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

BREAK = os.environ.get("BREAK", "")
ROOT = Path(os.environ.get("GC_STORE_ROOT", "."))
FIELDS = ("assignee", "from", "parent_id", "ref", "needs", "description", "labels")
Bead = dict[str, Any]


def die(message: str, code: int = 1) -> None:
    sys.stderr.write(message + "\n")
    raise SystemExit(code)


def path(bead_id: str) -> Path:
    return ROOT / f"{bead_id}.json"


def load(bead_id: str) -> Bead:
    if BREAK == "not-found-exit-0" and not path(bead_id).exists():
        print("{}")
        raise SystemExit(0)
    if not path(bead_id).exists():
        die(f"bead {bead_id} not found")
    bead: Bead = orjson.loads(path(bead_id).read_bytes())
    return bead


def save(bead: Bead) -> None:
    path(bead["id"]).write_bytes(orjson.dumps(bead))


def every() -> list[Bead]:
    beads = [orjson.loads(p.read_bytes()) for p in ROOT.glob("*.json")]
    return sorted(beads, key=lambda b: int(str(b["id"]).rsplit("-", 1)[1]))


def emit(value: object) -> None:
    if value == [] and BREAK == "empty-text":
        print("no beads")
        return
    sys.stdout.write(orjson.dumps(value).decode() + "\n")


def create(request: Bead) -> Bead:
    counter = ROOT / ".counter"
    number = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(number))
    bead: Bead = {
        "id": "gc-1" if BREAK == "ids-constant" else f"gc-{number}",
        "title": request["title"].upper() if BREAK == "title-upper" else request["title"],
        "status": "new" if BREAK == "status-new" else "open",
        "type": "" if BREAK == "type-empty" else request.get("type") or "task",
        "created_at": "1970-01-01T00:00:00Z"
        if BREAK == "created-at-epoch"
        else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metadata": {} if BREAK == "metadata-dropped" else dict(request.get("metadata") or {}),
    }
    for field in FIELDS:
        if field in request:
            bead[field] = request[field]
    if BREAK == "assignee-dropped":
        bead.pop("assignee", None)
    if BREAK == "from-dropped":
        bead.pop("from", None)
    if BREAK == "labels-dropped":
        bead.pop("labels", None)
    if BREAK == "metadata-drops-empty":
        bead["metadata"] = {k: v for k, v in bead["metadata"].items() if v != ""}
    if BREAK == "metadata-leaks-labels":
        bead["labels"] = [*bead.get("labels", []), *(f"meta:{k}={v}" for k, v in bead["metadata"].items())]
    save(bead)
    return bead


def update(bead: Bead, request: Bead) -> None:
    if BREAK == "update-ignored":
        return
    if BREAK == "update-clears" and not request:
        bead["description"] = ""
    for field in ("title", "status", "priority", "description", "parent_id", "assignee", "type"):
        if field in request:
            bead[field] = request[field]
    bead["labels"] = [*bead.get("labels", []), *request.get("labels", [])]
    if "metadata" in request:
        if BREAK == "metadata-replace":
            bead["metadata"] = dict(request["metadata"])
        else:
            bead.setdefault("metadata", {}).update(request["metadata"])
    save(bead)


def main(argv: list[str]) -> None:
    op, args = (argv[0], argv[1:]) if argv else ("", [])
    if not os.environ.get("GC_STORE_ROOT"):
        die("GC_STORE_ROOT is required")
    if op == "create":
        emit(create(orjson.loads(sys.stdin.buffer.read())))
    elif op == "get":
        bead = load(args[0])
        if BREAK == "get-title-stale":
            bead["title"] += " (stale)"
        emit(bead)
    elif op == "update":
        update(load(args[0]), orjson.loads(sys.stdin.buffer.read() or b"{}"))
    elif op == "close":
        bead = load(args[0])
        if BREAK == "close-twice-fails" and bead["status"] == "closed":
            die("already closed")
        if BREAK != "close-noop":
            bead["status"] = "closed"
        save(bead)
    elif op == "list":
        if BREAK == "list-exit-2":
            raise SystemExit(2)
        status = next((a.split("=", 1)[1] for a in args if a.startswith("--status=")), "")
        beads = [b for b in every() if not status or b["status"] == status]
        if BREAK == "list-drops-closed" and not status:
            beads = [b for b in beads if b["status"] != "closed"]
        emit(beads)
    elif op == "ready":
        if BREAK == "ready-exit-2":
            raise SystemExit(2)
        emit([] if BREAK == "ready-empty" else [b for b in every() if b["status"] == "open"])
    elif op == "children":
        if BREAK == "children-all":
            emit(every())
        elif BREAK == "children-none":
            emit([])
        else:
            emit([b for b in every() if b.get("parent_id") == args[0]])
    elif op == "list-by-label":
        if BREAK == "list-by-label-fails":
            die("list-by-label: broken")
        emit([b for b in every() if args[0] in b.get("labels", [])])
    elif op == "set-metadata":
        bead = load(args[0])
        value = sys.stdin.buffer.read().decode()
        if BREAK == "set-metadata-appends":
            value = bead.setdefault("metadata", {}).get(args[1], "") + value
        bead.setdefault("metadata", {})[args[1]] = value
        save(bead)
    elif op in ("dep-add", "dep-remove", "dep-list"):
        deps_file = ROOT / ".deps"
        deps: list[Bead] = orjson.loads(deps_file.read_bytes()) if deps_file.exists() else []
        if op == "dep-add":
            deps = [d for d in deps if (d["issue_id"], d["depends_on_id"]) != (args[0], args[1])]
            deps.append({"issue_id": args[0], "depends_on_id": args[1], "type": args[2]})
        elif op == "dep-remove":
            deps = [d for d in deps if (d["issue_id"], d["depends_on_id"]) != (args[0], args[1])]
        else:
            key = "issue_id" if args[1] in ("down", "") else "depends_on_id"
            emit([] if BREAK == "dep-list-empty" else [d for d in deps if d[key] == args[0]])
            return
        deps_file.write_bytes(orjson.dumps(deps))
    elif BREAK == "unknown-op-exit-1":
        die(f"unknown op {op}")
    else:
        raise SystemExit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
