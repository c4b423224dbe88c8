"""The beads store conformance cases (beads-protocol.md §4a/§4b), driven as gc does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from beads_helpers import Scope


def _created_at(bead: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(bead["created_at"]).replace("Z", "+00:00"))


def _not_found(scope: Scope, op: str, *args: str, stdin: bytes = b"") -> None:
    res = scope.run(op, *args, stdin=stdin)
    assert res.rc == 1, res
    assert "not found" in res.err.lower(), res.err


def test_create_assigns_unique_non_empty_ids(store: Scope) -> None:
    a, b = store.create(title="a"), store.create(title="b")
    assert a["id"] and b["id"] and a["id"] != b["id"]
    assert str(a["id"]).startswith(store.prefix + "-")


def test_create_sets_status_open_type_task_and_created_at_now(store: Scope) -> None:
    bead = store.create(title="x")
    assert bead["status"] == "open"
    assert bead["type"] == "task"
    assert abs(datetime.now(UTC) - _created_at(bead)) < timedelta(hours=1)


def test_create_preserves_explicit_type_and_exact_title(store: Scope) -> None:
    title = "  -- tricky \"title\" with 'quotes', $(id) `x` ; & | \\ é 🚀\n"
    bead = store.create(title=title, type="bug")
    got = store.json("get", bead["id"])
    assert got["type"] == "bug"
    assert got["title"] == title


def test_every_field_round_trips_through_create_and_get(store: Scope) -> None:
    parent = store.create(title="parent")
    dep = store.create(title="dep")
    bead = store.create(
        title="t", type="feature", priority=1, assignee="mayor", **{"from": "priya"},
        parent_id=parent["id"], needs=[dep["id"]], description="line1\nline2\n",
        labels=["pool:dog", "a,b", 'q"x'], metadata={"n": 3, "f": 1.5, "b": True, "s": "0",
                                                      "e": ""},
        ref="ext-1", ephemeral=True, defer_until="2030-01-02T03:04:05Z",
    )
    for got in (bead, store.json("get", bead["id"])):
        assert got["priority"] == 1
        assert got["assignee"] == "mayor"
        assert got["from"] == "priya"
        assert got["parent_id"] == parent["id"]
        assert got["needs"] == [dep["id"]]
        assert got["description"] == "line1\nline2\n"
        assert sorted(got["labels"]) == sorted(["pool:dog", "a,b", 'q"x'])
        assert got["metadata"] == {"n": "3", "f": "1.5", "b": "true", "s": "0", "e": ""}
        assert got["ref"] == "ext-1"
        assert got["ephemeral"] is True
        assert got["defer_until"] == "2030-01-02T03:04:05Z"
        assert got["created_at"] and got["updated_at"]


def test_get_existing_matches_create(store: Scope) -> None:
    bead = store.create(title="g", assignee="mayor")
    got = store.json("get", bead["id"])
    for key in ("id", "title", "status", "type", "assignee", "created_at"):
        assert got[key] == bead[key]


def test_get_missing_id_is_not_found_in_empty_and_non_empty_store(store: Scope) -> None:
    _not_found(store, "get", store.prefix + "-zzz")
    store.create(title="x")
    _not_found(store, "get", store.prefix + "-zzz")


def test_close_sets_closed_is_idempotent_and_removes_from_ready(store: Scope) -> None:
    bead = store.create(title="c")
    store.ok("close", bead["id"])
    assert store.json("get", bead["id"])["status"] == "closed"
    store.ok("close", bead["id"])
    assert store.json("get", bead["id"])["status"] == "closed"
    assert bead["id"] not in [b["id"] for b in store.json("ready")]


def test_close_update_reopen_missing_id_are_not_found(store: Scope) -> None:
    _not_found(store, "close", "nope-1")
    _not_found(store, "update", "nope-1", stdin=b'{"description":"x"}')
    _not_found(store, "update", "nope-1", stdin=b"{}")
    _not_found(store, "reopen", "nope-1")


def test_reopen_sets_status_open(store: Scope) -> None:
    bead = store.create(title="r")
    store.ok("close", bead["id"])
    store.ok("reopen", bead["id"])
    assert store.json("get", bead["id"])["status"] == "open"


def test_list_returns_all_beads_including_closed(store: Scope) -> None:
    assert store.json("list") == []
    ids = [store.create(title=f"b{i}")["id"] for i in range(3)]
    store.ok("close", ids[0])
    assert sorted(b["id"] for b in store.json("list")) == sorted(ids)


def test_list_filters_by_status_assignee_type_and_limit(store: Scope) -> None:
    a = store.create(title="a", type="message", assignee="mayor")
    store.create(title="b", type="task", assignee="mayor")
    c = store.create(title="c", type="message")
    store.ok("close", c["id"])
    got = store.json("list", "--status=open", "--assignee=mayor", "--type=message", "--limit=7")
    assert [b["id"] for b in got] == [a["id"]]
    assert [b["id"] for b in store.json("list", "--status=closed")] == [c["id"]]
    assert len(store.json("list", "--limit=2")) == 2


def test_list_shows_infra_types_and_gates(store: Scope) -> None:
    kinds = ["message", "agent", "rig", "role", "gate", "session"]
    for kind in kinds:
        store.create(title=kind, type=kind)
    assert sorted(b["type"] for b in store.json("list")) == sorted(kinds)


def test_ready_returns_open_unblocked_task_beads_only(store: Scope) -> None:
    assert store.json("ready") == []
    task = store.create(title="task")
    for kind in ("molecule", "message", "gate", "merge-request", "session", "agent", "role",
                 "rig"):
        store.create(title=kind, type=kind)
    assert [b["id"] for b in store.json("ready")] == [task["id"]]
    blocked = store.create(title="blocked", needs=[task["id"]])
    assert blocked["id"] not in [b["id"] for b in store.json("ready")]
    store.ok("close", task["id"])
    assert [b["id"] for b in store.json("ready")] == [blocked["id"]]


def test_ready_includes_ephemeral_beads_only_when_asked(store: Scope) -> None:
    wisp = store.create(title="wisp", ephemeral=True)
    assert wisp["id"] not in [b["id"] for b in store.json("ready")]
    assert wisp["id"] in [b["id"] for b in store.json("ready", "--include-ephemeral")]


def test_ready_counts_three(store: Scope) -> None:
    for i in range(3):
        store.create(title=f"r{i}")
    assert len(store.json("ready")) == 3


def test_update_applies_fields_and_empty_update_changes_nothing(store: Scope) -> None:
    bead = store.create(title="u", description="before", labels=["keep", "drop"],
                        metadata={"state": "a", "other": "x"})
    store.ok("update", bead["id"], stdin=b"{}")
    assert store.json("get", bead["id"])["description"] == "before"
    store.ok("update", bead["id"], stdin=(
        b'{"title":"u2","status":"in_progress","priority":4,"assignee":"mayor",'
        b'"type":"bug","labels":["new"],"remove_labels":["drop"],"metadata":{"state":"b"}}'))
    got = store.json("get", bead["id"])
    assert (got["title"], got["status"], got["priority"], got["assignee"], got["type"]) == (
        "u2", "in_progress", 4, "mayor", "bug")
    assert sorted(got["labels"]) == ["keep", "new"]
    assert got["metadata"] == {"state": "b", "other": "x"}
    store.ok("update", bead["id"], stdin=b'{"description":"","assignee":""}')
    got = store.json("get", bead["id"])
    assert got["description"] == ""
    assert not got.get("assignee")


def test_update_parent_moves_bead_between_parents(store: Scope) -> None:
    p1, p2 = store.create(title="p1"), store.create(title="p2")
    child = store.create(title="c", parent_id=p1["id"])
    store.ok("update", child["id"], stdin=b'{"parent_id":"%s"}' % p2["id"].encode())
    assert store.json("children", p1["id"]) == []
    assert [b["id"] for b in store.json("children", p2["id"])] == [child["id"]]


def test_children_in_creation_order_including_closed(store: Scope) -> None:
    assert store.json("children", "nope-1") == []
    parent, other = store.create(title="p"), store.create(title="o")
    c1 = store.create(title="c1", parent_id=parent["id"])
    c2 = store.create(title="c2", parent_id=parent["id"])
    store.create(title="unrelated")
    store.ok("close", c2["id"])
    kids = store.json("children", parent["id"])
    assert [b["id"] for b in kids] == [c1["id"], c2["id"]]
    assert all(b["parent_id"] == parent["id"] for b in kids)
    assert store.json("children", other["id"]) == []


def test_list_by_label_exact_match_and_limit(store: Scope) -> None:
    assert store.json("list-by-label", "x", "0") == []
    hit = store.create(title="hit", labels=["pool:dog"])
    store.create(title="near", labels=["pool:dogs"])
    assert [b["id"] for b in store.json("list-by-label", "pool:dog", "0")] == [hit["id"]]
    assert store.json("list-by-label", "other", "0") == []
    for i in range(2):
        store.create(title=f"more{i}", labels=["pool:dog"])
    assert len(store.json("list-by-label", "pool:dog", "2")) == 2
    assert len(store.json("list-by-label", "pool:dog", "0")) == 3


def test_set_metadata_overwrites_with_raw_stdin_values(store: Scope) -> None:
    bead = store.create(title="m", metadata={"keep": "1"})
    store.ok("set-metadata", bead["id"], "state", stdin=b"first")
    store.ok("set-metadata", bead["id"], "state", stdin=b"second")
    store.ok("set-metadata", bead["id"], "odd key-with.chars", stdin=b'a, "b"\n')
    store.ok("set-metadata", bead["id"], "empty", stdin=b"")
    store.ok("set-metadata", bead["id"], "num", stdin=b"42")
    assert store.json("get", bead["id"])["metadata"] == {
        "keep": "1", "state": "second", "odd key-with.chars": 'a, "b"\n', "empty": "",
        "num": "42"}


def test_set_metadata_on_missing_id_fails(store: Scope) -> None:
    res = store.run("set-metadata", "nope-1", "k", stdin=b"v")
    assert res.rc == 1 and "not found" in res.err


def test_delete_force_removes_bead(store: Scope) -> None:
    bead = store.create(title="d")
    store.ok("delete", "--force", bead["id"])
    _not_found(store, "get", bead["id"])
    res = store.run("delete", "--force", bead["id"])
    assert res.rc == 1


def test_dependencies_add_list_update_type_remove(store: Scope) -> None:
    a, b = store.create(title="a"), store.create(title="b")
    assert store.json("dep-list", a["id"], "down") == []
    store.ok("dep-add", a["id"], b["id"], "blocks")
    store.ok("dep-add", a["id"], b["id"], "blocks")
    assert store.json("dep-list", a["id"], "down") == [
        {"issue_id": a["id"], "depends_on_id": b["id"], "type": "blocks"}]
    assert store.json("dep-list", a["id"], "") == store.json("dep-list", a["id"], "down")
    store.ok("dep-add", a["id"], b["id"], "tracks")
    assert store.json("dep-list", b["id"], "up") == [
        {"issue_id": a["id"], "depends_on_id": b["id"], "type": "tracks"}]
    store.ok("dep-remove", a["id"], b["id"])
    store.ok("dep-remove", a["id"], b["id"])
    assert store.json("dep-list", a["id"], "down") == []


def test_purge_reports_purged_count(store: Scope) -> None:
    wisp = store.create(title="w", ephemeral=True)
    store.ok("close", wisp["id"])
    beads_dir = str(store.root / ".beads")
    assert store.json("purge", beads_dir, stdin=b'{"dry_run":true}') == {"purged_count": 1}
    assert store.json("purge", beads_dir, stdin=b'{"dry_run":false}') == {"purged_count": 1}
    _not_found(store, "get", wisp["id"])


def test_config_set_writes_bd_config(store: Scope) -> None:
    store.ok("config-set", "custom.key", "value with spaces")
