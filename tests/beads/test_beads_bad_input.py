"""Bad input to the store costs nothing: a clear line, exit 1, no bead lost or changed.

A destructive op (`purge`) runs only on a request that parses exactly; NUL bytes, wrong
JSON types and a closed stdin are each one line on stderr, never an internal error or a
"runner pod unavailable" that would send an operator looking at the cluster.
"""

from __future__ import annotations

import subprocess

import orjson
import pytest
from beads_helpers import Scope
from helpers import Completed

#: The ops gc sends, with arguments; `{id}`/`{other}` are filled with real beads.
STORE_OPS: list[tuple[str, ...]] = [
    ("create",), ("get", "{id}"), ("update", "{id}"), ("close", "{other}"), ("reopen", "{other}"),
    ("list",), ("ready",), ("children", "{id}"), ("list-by-label", "x"),
    ("set-metadata", "{id}", "k"), ("dep-add", "{id}", "{other}", "blocks"),
    ("dep-list", "{id}", "down"), ("dep-remove", "{id}", "{other}"),
    ("config-set", "custom.k", "v"), ("purge", "{beads}"), ("delete", "--force", "{gone}"),
    ("probe",), ("health",),
]


def _one_line_failure(res: Completed, needle: str = "") -> None:
    rc, out, err = res
    assert rc == 1, res
    assert len(err.strip().splitlines()) == 1, err
    assert "internal error" not in err and "unavailable" not in err, err
    assert needle.lower() in err.lower(), err
    assert out == ""


def _with_closed_stdin(store: Scope, *args: str) -> Completed:
    city = store.city
    env = {**city.env, **city.scope(store.root)}
    res = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *city.provider.argv, *args],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    return Completed(res.returncode, res.stdout, res.stderr)


@pytest.mark.parametrize("request_body", [
    b'{"dry_run":"true"}', b"", b"   ", b'{"dryRun":true}', b"{}", b'{"dry_run":1}',
    b'{"dry_run":false,"force":true}', b'{"dry_run":null}', b"[]", b"true", b'"x"', b"null",
    b'{"dry_run":true', b'{"dry_run":false}{"dry_run":false}',
], ids=lambda raw: raw.decode() or "empty")
def test_a_purge_request_that_does_not_parse_exactly_deletes_nothing(
        store: Scope, request_body: bytes) -> None:
    wisp = store.create(title="w", ephemeral=True)
    store.ok("close", wisp["id"])
    beads_dir = str(store.root / ".beads")
    res = store.run("purge", beads_dir, stdin=request_body)
    _one_line_failure(res, "purge")
    assert store.json("get", wisp["id"])["id"] == wisp["id"]  # still there


def test_purge_with_a_closed_stdin_deletes_nothing(store: Scope) -> None:
    wisp = store.create(title="w", ephemeral=True)
    store.ok("close", wisp["id"])
    res = _with_closed_stdin(store, "purge", str(store.root / ".beads"))
    _one_line_failure(res, "stdin")
    assert store.json("get", wisp["id"])["id"] == wisp["id"]


def test_every_store_op_with_a_closed_stdin_is_a_clear_answer(store: Scope) -> None:
    bead, other, gone = store.create(title="a"), store.create(title="b"), store.create(title="c")
    store.ok("delete", "--force", gone["id"])
    fill = {"{id}": bead["id"], "{other}": other["id"], "{gone}": gone["id"],
            "{beads}": str(store.root / ".beads")}
    for op in STORE_OPS:
        args = [fill.get(a, a) for a in op]
        res = _with_closed_stdin(store, *args)
        assert "internal error" not in res.err, (op, res)
        if res.rc:
            assert len(res.err.strip().splitlines()) == 1, (op, res.err)
    for reader in ("create", "update", "set-metadata", "purge"):
        args = [fill.get(a, a) for a in next(o for o in STORE_OPS if o[0] == reader)]
        res = _with_closed_stdin(store, *args)
        assert res.rc == 1 and "stdin is closed" in res.err, (reader, res)
    assert store.json("get", bead["id"])["metadata"] == {}  # set-metadata stored nothing


@pytest.mark.parametrize("fields", [
    {"title": "a\0b"}, {"title": "t", "description": "x\0"}, {"title": "t", "labels": ["ok", "\0"]},
    {"title": "t", "metadata": {"k\0": "v"}}, {"title": "t", "metadata": {"k": "v\0"}},
    {"title": "t", "assignee": "\0"}, {"title": "t", "needs": ["\0"]},
], ids=str)
def test_a_nul_byte_in_a_create_field_is_one_clear_line(store: Scope, fields: dict[str, object]) -> None:
    before = store.json("list")
    _one_line_failure(store.run("create", stdin=orjson.dumps(fields)), "NUL")
    assert store.json("list") == before


@pytest.mark.parametrize("fields", [
    {"title": "a\0b"}, {"description": "\0"}, {"labels": ["\0"]}, {"metadata": {"k": "\0"}},
    {"assignee": "x\0"},
], ids=str)
def test_a_nul_byte_in_an_update_field_changes_nothing(store: Scope, fields: dict[str, object]) -> None:
    bead = store.create(title="keep", description="d")
    _one_line_failure(store.run("update", bead["id"], stdin=orjson.dumps(fields)), "NUL")
    got = store.json("get", bead["id"])
    assert (got["title"], got["description"], got["labels"], got["metadata"]) == \
        ("keep", "d", [], {})


def test_a_nul_byte_in_a_metadata_value_stores_nothing(store: Scope) -> None:
    bead = store.create(title="m")
    _one_line_failure(store.run("set-metadata", bead["id"], "k", stdin=b"a\0b"), "NUL")
    assert store.json("get", bead["id"])["metadata"] == {}


@pytest.mark.parametrize("body", [
    b"[]", b'"x"', b"5", b"null", b"true", b'{"title":5}', b'{"title":"t","labels":"x"}',
    b'{"title":"t","labels":[1]}', b'{"title":"t","metadata":[]}', b'{"title":"t","priority":"1"}',
    b'{"title":"t","ephemeral":"true"}', b'{"title":"t","no_history":1}', b'{"title":["t"]}',
    b'{"title":"t","needs":"x"}', b"{", b"\xff",
], ids=lambda raw: raw.decode("latin-1"))
def test_wrong_json_types_in_create_are_one_clear_line(store: Scope, body: bytes) -> None:
    before = store.json("list")
    _one_line_failure(store.run("create", stdin=body))
    assert store.json("list") == before


@pytest.mark.parametrize("body", [
    b"[]", b'"x"', b'{"title":5}', b'{"labels":"x"}', b'{"metadata":"x"}', b'{"priority":9}',
    b'{"status":false}',
], ids=lambda raw: raw.decode())
def test_wrong_json_types_in_update_change_nothing(store: Scope, body: bytes) -> None:
    bead = store.create(title="keep")
    _one_line_failure(store.run("update", bead["id"], stdin=body))
    assert store.json("get", bead["id"])["title"] == "keep"


def test_dep_remove_after_the_other_bead_was_deleted_succeeds(store: Scope) -> None:
    a, b = store.create(title="a"), store.create(title="b")
    store.ok("dep-add", a["id"], b["id"], "blocks")
    store.ok("delete", "--force", b["id"])
    store.ok("dep-remove", a["id"], b["id"])
    assert store.json("dep-list", a["id"], "down") == []
