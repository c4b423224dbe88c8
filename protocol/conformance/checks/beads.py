"""Exec beads store cases (suite ``beads``, ``--beads``): beads-protocol.md §4.

Each case gets a fresh, empty store: a new ``GC_STORE_ROOT`` plus the store-op
environment gc sets (``GC_STORE_SCOPE=city``, ``GC_BEADS_PREFIX``, the Dolt and
``BEADS_*`` variables set to empty). Output is read as gc reads it: trailing
newlines trimmed, then JSON; exit 2 is success with empty output; an empty
list output is ``[]``. The client-side filters gc applies after ``list``,
``ready`` and ``list-by-label`` are applied here too, so a script may return
supersets, as the protocol allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from protocol.conformance.caller import parse_rfc3339
from protocol.conformance.context import Kit
from protocol.conformance.driver import OpResult
from protocol.conformance.gojson import GoValue, encode
from protocol.conformance.model import fail, skip
from protocol.conformance.registry import Spec, Unit, single

UNITS: list[Unit] = []
Bead = dict[str, Any]
INFRA_TYPES = {"merge-request", "gate", "molecule", "message", "session", "agent", "role", "rig"}
EMPTIED_ENV = (
    "GC_DOLT_HOST",
    "GC_DOLT_PORT",
    "GC_DOLT_USER",
    "GC_DOLT_PASSWORD",
    "BEADS_CREDENTIALS_FILE",
    "BEADS_DOLT_SERVER_HOST",
    "BEADS_DOLT_SERVER_PORT",
    "BEADS_DOLT_SERVER_USER",
    "BEADS_DOLT_PASSWORD",
    "BEADS_DIR",
    "BEADS_DOLT_AUTO_START",
    "GC_BIN",
)


class Store:
    """One empty store, driven like gc's ``exec.Store``."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        root = kit.workdir("store")
        self.env = {
            **dict.fromkeys(EMPTIED_ENV, ""),
            "GC_CITY": str(root),
            "GC_CITY_PATH": str(root),
            "GC_CITY_RUNTIME_DIR": str(root / ".gc"),
            "GC_PROVIDER": f"exec:{kit.provider.command[-1]}",
            "GC_STORE_ROOT": str(root),
            "GC_STORE_SCOPE": "city",
            "GC_BEADS_PREFIX": "gc",
            "GC_RIG": "",
            "GC_RIG_ROOT": "",
        }
        self.root = Path(root)

    def run(self, op: str, *args: str, body: Mapping[str, GoValue] | None = None) -> OpResult:
        stdin = encode_request(body).encode() if body is not None else None
        return self.kit.provider.run(op, *args, stdin=stdin, env=self.env)

    def ok(self, op: str, *args: str, body: Mapping[str, GoValue] | None = None) -> str:
        result = self.run(op, *args, body=body)
        if result.not_implemented:
            return ""
        if not result.ok:
            raise fail(f"{op}: {result.describe()}")
        return result.output

    def create(self, title: str, **fields: GoValue) -> Bead:
        request: dict[str, GoValue] = {"title": title, "type": "task", **fields}
        return self.parse_bead(self.ok("create", body=request), "create")

    def get(self, bead_id: str) -> Bead:
        return self.parse_bead(self.ok("get", bead_id), "get")

    def update(self, bead_id: str, **fields: GoValue) -> None:
        self.ok("update", bead_id, body=fields)

    def close(self, bead_id: str) -> None:
        self.ok("close", bead_id)

    def list_all(self, *flags: str) -> list[Bead]:
        return self.parse_list(self.ok("list", *flags), "list")

    def list_open(self) -> list[Bead]:
        return [b for b in self.list_all() if b.get("status") != "closed"]

    def ready(self) -> list[Bead]:
        result = self.run("ready")
        if result.not_implemented:
            raise fail("ready exited 2, which newer gc reads as an error")
        if not result.ok:
            raise fail(f"ready: {result.describe()}")
        beads = self.parse_list(result.output, "ready")
        return [b for b in beads if b.get("type") not in INFRA_TYPES]

    def children(self, parent: str) -> list[Bead]:
        beads = self.parse_list(self.ok("children", parent), "children")
        return [b for b in beads if b.get("parent_id") == parent]

    def by_label(self, label: str, limit: int) -> list[Bead]:
        beads = self.parse_list(self.ok("list-by-label", label, "0"), "list-by-label")
        beads = [b for b in beads if label in (b.get("labels") or [])]
        return beads[:limit] if limit else beads

    def not_found(self, op: str, *args: str, body: Mapping[str, GoValue] | None = None) -> str:
        result = self.run(op, *args, body=body)
        text = (result.error_text + " " + " ".join(result.argv)).lower()
        if result.ok or result.not_implemented:
            raise fail(f"{op} of a missing id did not fail: {result.describe()}")
        if "not found" not in text and "no issue found" not in text:
            raise fail(f"{op} of a missing id: stderr lacks 'not found': {result.describe()}")
        return result.error_text

    @staticmethod
    def parse_bead(output: str, op: str) -> Bead:
        try:
            bead = orjson.loads(output)
        except orjson.JSONDecodeError as exc:
            raise fail(f"{op}: parsing JSON: {exc}: {output!r}") from None
        if not isinstance(bead, dict):
            raise fail(f"{op}: not a JSON object: {output!r}")
        return _coerce(bead)

    @staticmethod
    def parse_list(output: str, op: str) -> list[Bead]:
        if output.strip() in ("", "null"):
            return []
        try:
            beads = orjson.loads(output)
        except orjson.JSONDecodeError as exc:
            raise fail(f"{op}: parsing JSON: {exc}: {output!r}") from None
        if not isinstance(beads, list) or not all(isinstance(b, dict) for b in beads):
            raise fail(f"{op}: not a JSON array of objects: {output!r}")
        return [_coerce(b) for b in beads]


#: Field order of gc's createRequest/updateRequest structs (Go encodes structs in order).
REQUEST_FIELDS = [
    "title",
    "type",
    "status",
    "priority",
    "labels",
    "remove_labels",
    "parent_id",
    "ref",
    "needs",
    "description",
    "assignee",
    "from",
    "metadata",
]


def encode_request(body: Mapping[str, GoValue]) -> str:
    """A request struct: fields in Go declaration order, nested maps sorted."""
    keys = sorted(body, key=lambda k: REQUEST_FIELDS.index(k) if k in REQUEST_FIELDS else 99)
    return "{" + ",".join(f"{encode(k)}:{encode(body[k])}" for k in keys) + "}"


def _coerce(bead: Bead) -> Bead:
    """gc coerces non-string metadata values to their JSON text."""
    meta = bead.get("metadata")
    if isinstance(meta, dict):
        bead["metadata"] = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in meta.items()}
    return bead


def ids(beads: list[Bead]) -> set[str]:
    return {str(b.get("id")) for b in beads}


def beads_case(go_name: str) -> Callable[[Callable[[Store], str | None]], Unit]:
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+", go_name)
    spec = Spec("BEADS-" + "-".join(w.upper() for w in words), "beads", "beads", go_name)

    def wrap(body: Callable[[Store], str | None]) -> Unit:
        def run(kit: Kit) -> str | None:
            return body(Store(kit))

        unit = single(spec)(run)
        UNITS.append(unit)
        return unit

    return wrap


def expect(condition: bool, detail: str) -> None:
    if not condition:
        raise fail(detail)


@beads_case("CreateAssignsUniqueNonEmptyID")
def create_ids(store: Store) -> str:
    first, second = store.create("one"), store.create("two")
    expect(
        bool(first.get("id")) and first.get("id") != second.get("id"), f"ids {first.get('id')!r}, {second.get('id')!r}"
    )
    return f"{first['id']}, {second['id']}"


@beads_case("CreateSetsStatusOpen")
def create_open(store: Store) -> None:
    bead = store.create("open me")
    expect(bead.get("status") == "open", f"status {bead.get('status')!r}")


@beads_case("CreateDefaultsTypeToTask")
def create_task(store: Store) -> None:
    bead = store.create("untyped")
    expect(bead.get("type") == "task", f"type {bead.get('type')!r}")


@beads_case("CreatePreservesExplicitType")
def create_bug(store: Store) -> None:
    bead = store.create("typed", type="bug")
    expect(bead.get("type") == "bug", f"type {bead.get('type')!r}")


@beads_case("CreateSetsCreatedAt")
def create_time(store: Store) -> None:
    stamp = str(store.create("timed").get("created_at") or "")
    parsed = parse_rfc3339(stamp)
    now = datetime.now(UTC)
    expect(parsed is not None and abs(now - parsed) < timedelta(hours=1), f"created_at {stamp!r}")


@beads_case("CreatePreservesTitle")
def create_title(store: Store) -> None:
    title = "Title with 'quotes', \"double\", <html> & unicode ✓"
    expect(store.create(title).get("title") == title, "title changed")


@beads_case("CreateAssigneeRoundTrips")
def create_assignee(store: Store) -> None:
    bead = store.create("assigned", assignee="mayor")
    got = store.get(bead["id"]).get("assignee")
    expect(got == "mayor", f"assignee on get: {got!r}")


@beads_case("CreateFromRoundTrips")
def create_from(store: Store) -> None:
    bead = store.create("sent", **{"from": "priya"})
    got = store.get(bead["id"]).get("from")
    expect(got == "priya", f"from on get: {got!r}")


@beads_case("GetExistingBead")
def get_existing(store: Store) -> None:
    made = store.create("fetch me", assignee="mayor")
    got = store.get(made["id"])
    for key in ("id", "title", "status", "type", "assignee"):
        expect(got.get(key) == made.get(key), f"{key}: created {made.get(key)!r}, got {got.get(key)!r}")


@beads_case("GetNotFound")
def get_missing(store: Store) -> str:
    store.create("someone")
    return store.not_found("get", "gc-does-not-exist")


@beads_case("GetNotFoundEmptyStore")
def get_missing_empty(store: Store) -> str:
    return store.not_found("get", "gc-does-not-exist")


@beads_case("CloseSuccess")
def close_ok(store: Store) -> None:
    bead = store.create("close me")
    store.close(bead["id"])
    expect(store.get(bead["id"]).get("status") == "closed", "status after close is not closed")


@beads_case("CloseNotFound")
def close_missing(store: Store) -> str:
    return store.not_found("close", "gc-does-not-exist")


@beads_case("CloseIdempotent")
def close_twice(store: Store) -> None:
    bead = store.create("close twice")
    store.close(bead["id"])
    store.close(bead["id"])
    expect(store.get(bead["id"]).get("status") == "closed", "not closed")


@beads_case("CloseRemovesFromReady")
def close_not_ready(store: Store) -> None:
    bead = store.create("ready then closed")
    store.close(bead["id"])
    expect(bead["id"] not in ids(store.ready()), "closed bead still ready")


@beads_case("ListReturnsAllBeads")
def list_all(store: Store) -> None:
    made = {store.create("a")["id"], store.create("b")["id"]}
    expect(made <= ids(store.list_open()), "list lacks created beads")


@beads_case("ListIncludesClosedWithoutStatus")
def list_closed(store: Store) -> None:
    bead = store.create("closed one")
    store.close(bead["id"])
    expect(bead["id"] in ids(store.list_all()), "plain list must include closed beads")
    expect(bead["id"] in ids(store.list_all("--status=closed")), "list --status=closed lacks it")


@beads_case("ListEmptyStore")
def list_empty(store: Store) -> None:
    expect(store.list_all() == [], "empty store lists beads")


@beads_case("ListCount")
def list_count(store: Store) -> None:
    for title in ("1", "2", "3"):
        store.create(title)
    expect(len(store.list_open()) == 3, f"{len(store.list_open())} beads listed")


@beads_case("ListFiltersByQueryFields")
def list_fields(store: Store) -> None:
    parent = store.create("parent")
    match = store.create("match", type="bug", labels=["pool:dog"], parent_id=parent["id"], metadata={"k": "v"})
    store.create("other", type="bug", labels=["pool:cat"])
    found = [
        b
        for b in store.list_all()
        if b.get("type") == "bug"
        and "pool:dog" in (b.get("labels") or [])
        and b.get("parent_id") == parent["id"]
        and (b.get("metadata") or {}).get("k") == "v"
    ]
    expect(ids(found) == {match["id"]}, f"filtered list: {sorted(ids(found))}")


@beads_case("ReadyReturnsOpenBeads")
def ready_open(store: Store) -> None:
    made = {store.create("a")["id"], store.create("b")["id"]}
    expect(made <= ids(store.ready()), "ready lacks open beads")


@beads_case("UpdateDescription")
def update_description(store: Store) -> None:
    bead = store.create("describe me")
    store.update(bead["id"], description="new words")
    got = store.get(bead["id"]).get("description")
    expect(got == "new words", f"description {got!r}")


@beads_case("UpdateNotFound")
def update_missing(store: Store) -> str:
    return store.not_found("update", "gc-does-not-exist", body={"description": "x"})


@beads_case("UpdateNilField")
def update_empty(store: Store) -> None:
    bead = store.create("keep", description="kept")
    store.update(bead["id"])
    got = store.get(bead["id"]).get("description")
    expect(got == "kept", f"an empty update changed the description to {got!r}")


@beads_case("ChildrenEmpty")
def children_empty(store: Store) -> None:
    expect(store.children("gc-no-parent") == [], "unknown parent has children")


@beads_case("ChildrenReturnsMatching")
def children_match(store: Store) -> None:
    parent = store.create("parent")
    kids = {store.create(t, parent_id=parent["id"])["id"] for t in ("c1", "c2")}
    store.create("unrelated")
    expect(ids(store.children(parent["id"])) == kids, "children differ")


@beads_case("ChildrenWrongParent")
def children_wrong(store: Store) -> None:
    parent, other = store.create("parent"), store.create("other")
    store.create("c1", parent_id=parent["id"])
    raw = store.parse_list(store.ok("children", other["id"]), "children")
    expect(raw == [], f"children of another parent: {sorted(ids(raw))}")


@beads_case("ReadyEmptyStore")
def ready_empty(store: Store) -> None:
    expect(store.ready() == [], "empty store has ready beads")


@beads_case("ReadyCount")
def ready_count(store: Store) -> None:
    for title in ("1", "2", "3"):
        store.create(title)
    expect(len(store.ready()) == 3, f"{len(store.ready())} ready")


@beads_case("ReadyExcludesInfraTypes")
def ready_infra(store: Store) -> None:
    task = store.create("the task")
    for kind in sorted(INFRA_TYPES):
        store.create(kind, type=kind)
    expect(ids(store.ready()) == {task["id"]}, f"ready after gc's filter: {sorted(ids(store.ready()))}")


@beads_case("ListByLabelMatch")
def label_match(store: Store) -> None:
    bead = store.create("labelled", labels=["needle"])
    store.create("plain")
    expect(ids(store.by_label("needle", 0)) == {bead["id"]}, "label match differs")


@beads_case("ListByLabelNoMatch")
def label_none(store: Store) -> None:
    store.create("labelled", labels=["needle"])
    expect(store.by_label("haystack", 0) == [], "other label matched")


@beads_case("ListByLabelLimit")
def label_limit(store: Store) -> None:
    for title in ("1", "2", "3"):
        store.create(title, labels=["many"])
    expect(len(store.by_label("many", 2)) == 2, "limit 2 of 3 labelled beads")


@beads_case("ListByLabelEmpty")
def label_empty(store: Store) -> None:
    expect(store.by_label("needle", 0) == [], "empty store matched a label")


@beads_case("MetadataRoundTrips")
def metadata_round_trip(store: Store) -> None:
    bead = store.create("meta", metadata={"state": "new", "note": 'quotes "x", commas, y'})
    got = store.get(bead["id"])
    expect(
        got.get("metadata") == {"state": "new", "note": 'quotes "x", commas, y'}, f"metadata {got.get('metadata')!r}"
    )
    leaked = [label for label in got.get("labels") or [] if str(label).startswith("meta:")]
    expect(not leaked, f"metadata leaked into labels: {leaked}")


@beads_case("UpdateMetadataMerges")
def metadata_merge(store: Store) -> None:
    bead = store.create("meta", metadata={"state": "new", "keep": "yes"})
    store.update(bead["id"], metadata={"state": "done"})
    got = store.get(bead["id"]).get("metadata")
    expect(got == {"state": "done", "keep": "yes"}, f"metadata after update {got!r}")


@beads_case("SetMetadataOverwrites")
def metadata_set(store: Store) -> None:
    bead = store.create("meta")
    for value in ("first", "mr"):
        result = store.kit.provider.run("set-metadata", bead["id"], "k", stdin=value.encode(), env=store.env)
        if result.not_implemented:
            raise skip("set-metadata not implemented (exit 2)")
        expect(result.ok, f"set-metadata: {result.describe()}")
    got = (store.get(bead["id"]).get("metadata") or {}).get("k")
    expect(got == "mr", f"metadata k = {got!r}")


@beads_case("MetadataStringsStayStrings")
def metadata_strings(store: Store) -> None:
    values = {"zero": "0", "empty": "", "answer": "42"}
    bead = store.create("meta", metadata=values)
    got = store.get(bead["id"]).get("metadata")
    expect(got == values, f"metadata {got!r}")


@beads_case("UnknownOperationExits2")
def unknown_op(store: Store) -> None:
    result = store.run("gc-conformance-no-such-op")
    expect(result.exit_code == 2, result.describe())


@beads_case("DepAddAndList")
def deps(store: Store) -> None:
    first, second = store.create("a"), store.create("b")
    added = store.run("dep-add", first["id"], second["id"], "blocks")
    if added.not_implemented:
        raise skip("dep-add not implemented (exit 2)")
    expect(added.ok, f"dep-add: {added.describe()}")
    listed = orjson.loads(store.ok("dep-list", first["id"], "down") or "[]")
    want = {"issue_id": first["id"], "depends_on_id": second["id"], "type": "blocks"}
    expect(want in listed, f"dep-list down: {listed!r}")
    store.ok("dep-remove", first["id"], second["id"])
    store.ok("dep-remove", first["id"], second["id"])
    after = orjson.loads(store.ok("dep-list", first["id"], "down") or "[]")
    expect(after == [], f"dep-list after dep-remove: {after!r}")
