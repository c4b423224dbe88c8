"""The bd command lines the runner builds use only flags real bd has, with bd's value syntax.

The fake bd parses argv as cobra/pflag parse real bd's, against its ``FLAGS``
table (taken from the bd sources), so a flag real bd lacks fails here as it
would in production: ``Error: unknown flag: --x``, exit 1.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from beads_helpers import City, Scope
from doubles import fake_bd
from helpers import Completed


def _fake(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = fake_bd.main(list(argv))
    return rc, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (("create", "--json", "--title=x", "--bogus"), "unknown flag: --bogus"),
    (("create", "--json", "--title=x", "--ref=ext-1"), "unknown flag: --ref"),
    (("update", "mc-1", "--external-reference=x"), "unknown flag: --external-reference"),
    (("list", "--json", "--include-closed"), "unknown flag: --include-closed"),
    (("ready", "--json", "--include-infra"), "unknown flag: --include-infra"),
    (("dep", "add", "a", "b", "--kind=blocks"), "unknown flag: --kind"),
    (("init", "--dolt-host=db"), "unknown flag: --dolt-host"),
    (("close", "-z", "mc-1"), "unknown shorthand flag: 'z' in -z"),
    (("reopen", "--force", "mc-1"), "unknown flag: --force"),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_fake_bd_rejects_flags_real_bd_lacks_like_cobra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...], message: str,
) -> None:
    monkeypatch.delenv("GC_FAKE_BD_LOG", raising=False)
    rc, err = _fake(capsys, *argv)
    assert rc == 1
    assert err == f"Error: {message}\n"


@pytest.mark.parametrize(("argv", "message"), [
    (("list", "--json", "--limit=ten"),
     'invalid argument "ten" for "-n, --limit" flag: strconv.ParseInt'),
    (("init", "--server-port=dolt"), 'invalid argument "dolt" for "--server-port" flag'),
    (("create", "--json=maybe"), 'invalid argument "maybe" for "--json" flag: strconv.ParseBool'),
    (("update", "mc-1", "--title"), "flag needs an argument: --title"),
    (("config", "set", "k", "-v"), "accepts 2 arg(s), received 1"),
    (("create", "--title=x", "--ephemeral", "--no-history"), "mutually exclusive"),
    (("create", "--title=x", "--priority=5"), 'invalid priority "5"'),
    (("create", "--title=x", "--defer=someday"), 'invalid --defer format "someday"'),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_fake_bd_checks_values_with_bds_syntax(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...], message: str,
) -> None:
    monkeypatch.delenv("GC_FAKE_BD_LOG", raising=False)
    monkeypatch.delenv("BEADS_DIR", raising=False)
    monkeypatch.chdir("/")
    rc, err = _fake(capsys, *argv)
    assert rc == 1
    assert message in err


def test_fake_bd_accepts_bds_own_spellings_of_the_same_flags() -> None:
    table = fake_bd.PERSISTENT + fake_bd.FLAGS["create"]
    pos, flags = fake_bd.parse(table, [
        "-t", "bug", "-p1", "-l", 'a,"b,c"', "--labels=d", "--json=true", "-a=mayor", "--",
        "--title-looking-positional"])
    assert pos == ["--title-looking-positional"]
    assert flags == {"type": ["bug"], "priority": ["1"], "labels": ["a", "b,c", "d"],
                     "json": ["true"], "assignee": ["mayor"]}


# --------------------------------------------------------------------------- end to end
#: The flags each bd command must have received during the round trip below: every
#: flag the runner can emit, so the test notices when one stops being exercised.
EMITTED = {
    "init": {"server", "server-host", "server-port", "prefix", "database", "skip-hooks",
             "non-interactive", "role", "skip-agents", "quiet"},
    "config get": {"json"},
    "config set": set(),
    "create": {"json", "title", "type", "priority", "description", "assignee", "external-ref",
               "defer", "labels", "parent", "no-inherit-labels", "deps", "metadata", "ephemeral",
               "no-history"},
    "show": {"json"},
    "update": {"json", "title", "status", "type", "priority", "description", "assignee",
               "parent", "add-label", "remove-label", "metadata"},
    "list": {"json", "all", "limit", "include-infra", "include-gates", "type", "assignee",
             "label"},
    "ready": {"json", "limit", "include-ephemeral"},
    "close": {"json", "force"},
    "reopen": {"json"},
    "delete": {"json", "force"},
    "dep add": {"json", "type"},
    "dep remove": {"json"},
    "dep list": {"json", "direction"},
    "purge": {"json", "dry-run", "force"},
}


class Logged:
    """A fresh rig scope of the shared city whose every bd call is logged by the fake."""

    def __init__(self, city: City) -> None:
        tag = uuid.uuid4().hex[:6]
        self.city = city
        self.root = city.root / f"flags-{tag}"
        self.root.mkdir()
        self.prefix = "f" + tag
        self.log = city.root.parent / f"bd-{tag}.log"
        self.env = {"GC_BEADS_BD": city.env["GC_BEADS_BD"].replace(
            "env ", f"env GC_FAKE_BD_LOG={self.log} ", 1)}

    def run(self, op: str, *args: str, stdin: bytes = b"") -> Completed:
        return self.city.run(op, *args, stdin=stdin, scope=self.root, env=self.env)

    def ok(self, op: str, *args: str, stdin: bytes = b"") -> Any:
        res = self.run(op, *args, stdin=stdin)
        assert res.rc == 0, f"{op} {args}: {res.err}"
        return orjson.loads(res.value) if res.value else None

    def create(self, **fields: Any) -> dict[str, Any]:
        bead: dict[str, Any] = self.ok("create", stdin=orjson.dumps(fields))
        return bead

    def calls(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.log.read_bytes().splitlines()]


def _command(argv: list[str]) -> str:
    return " ".join(argv[:2]) if argv[0] in fake_bd.PARENTS else argv[0]


def test_every_bd_call_of_a_full_round_trip_passes_the_strict_fake(shared_city: City) -> None:
    scope = Logged(shared_city)
    assert scope.run("init", str(scope.root), scope.prefix).rc == 0
    parent, dep = scope.create(title="parent"), scope.create(title="dep")
    bead = scope.create(
        title="all", type="feature", priority=1, assignee="mayor", **{"from": "priya"},
        parent_id=parent["id"], needs=[dep["id"]], description="d", labels=["l1", "a,b"],
        metadata={"k": "v"}, ref="ext-1", ephemeral=True, defer_until="2030-01-02T03:04:05Z")
    scope.create(title="kept", no_history=True)
    scope.ok("get", bead["id"])
    scope.ok("update", bead["id"], stdin=orjson.dumps({
        "title": "all2", "status": "in_progress", "type": "bug", "priority": 0,
        "description": "", "assignee": "", "parent_id": dep["id"], "labels": ["l2"],
        "remove_labels": ["l1"], "metadata": {"k": "w"}}))
    scope.ok("set-metadata", bead["id"], "state", stdin=b"done")
    scope.ok("list", "--status=open", "--assignee=mayor", "--type=task", "--limit=5")
    scope.ok("children", parent["id"])
    scope.ok("list-by-label", "l2", "0")
    scope.ok("ready")
    scope.ok("ready", "--include-ephemeral")
    scope.ok("dep-add", parent["id"], dep["id"], "tracks")
    for way in ("down", "up", ""):
        scope.ok("dep-list", parent["id"], way)
    scope.ok("dep-remove", parent["id"], dep["id"])
    scope.ok("close", bead["id"])
    scope.ok("reopen", bead["id"])
    scope.ok("close", bead["id"])
    scope.ok("config-set", "custom.key", "value")
    beads_dir = str(scope.root / ".beads")
    assert scope.ok("purge", beads_dir, stdin=b'{"dry_run":true}') == {"purged_count": 1}
    assert scope.ok("purge", beads_dir, stdin=b'{"dry_run":false}') == {"purged_count": 1}
    scope.ok("delete", "--force", parent["id"])

    calls = scope.calls()
    failed = [c for c in calls if c["rc"] != 0]
    assert failed == [], failed
    seen: dict[str, set[str]] = {}
    for call in calls:
        name = _command(call["argv"])
        table = fake_bd.PERSISTENT + fake_bd.FLAGS[name]
        start = 2 if name.count(" ") else 1
        _, flags = fake_bd.parse(table, call["argv"][start:])
        seen.setdefault(name, set()).update(flags)
    missing = {name: want - seen.get(name, set()) for name, want in EMITTED.items()}
    assert {k: v for k, v in missing.items() if v} == {}


def test_a_lone_dash_description_is_stored_not_read_from_stdin(store: Scope) -> None:
    bead = store.create(title="dash", description="-")
    assert store.json("get", bead["id"])["description"] == "-"
    other = store.create(title="other", description="before")
    store.ok("update", other["id"], stdin=b'{"description":"-"}')
    assert store.json("get", other["id"])["description"] == "-"


def test_ephemeral_and_no_history_together_are_refused_before_bd(store: Scope) -> None:
    res = store.run("create", stdin=b'{"title":"x","ephemeral":true,"no_history":true}')
    assert res.rc == 1
    assert "mutually exclusive" in res.err
    assert len(res.err.strip().splitlines()) == 1
    kept = store.create(title="kept", no_history=True)
    assert store.json("get", kept["id"])["no_history"] is True


@pytest.mark.parametrize("stdin", [b'{"title":"x","priority":5}', b'{"title":"x","priority":-1}'])
def test_priority_outside_bds_p0_to_p4_is_refused_on_create(store: Scope, stdin: bytes) -> None:
    res = store.run("create", stdin=stdin)
    assert res.rc == 1
    assert "between 0 and 4" in res.err


def test_priority_outside_bds_p0_to_p4_is_refused_on_update(store: Scope) -> None:
    bead = store.create(title="p")
    res = store.run("update", bead["id"], stdin=b'{"priority":9}')
    assert res.rc == 1
    assert "between 0 and 4" in res.err


def _db_config(city: City, database: str) -> dict[str, str]:
    path = city.dolt_root / f"fake-dolt_{city.port}" / database / "config.json"
    config: dict[str, str] = orjson.loads(path.read_bytes())
    return config


def test_config_set_keeps_a_value_that_starts_with_a_dash(store: Scope) -> None:
    store.ok("config-set", "custom.flagish", "-v")
    store.ok("config-set", "custom.other", "--json")
    config = _db_config(store.city, store.prefix)
    assert (config["custom.flagish"], config["custom.other"]) == ("-v", "--json")


def test_a_non_numeric_dolt_port_fails_init_with_one_line(bare_city: City) -> None:
    res = bare_city.run("init", str(bare_city.root), "mc", env={"GC_K8S_DOLT_PORT": "dolt"})
    assert res.rc == 1
    # Checked at start-up with every setting (`protocol.settings`), before init runs.
    assert "invalid GC_K8S_DOLT_PORT='dolt': want a port number from 1 to 65535" in res.err
    assert len(res.err.strip().splitlines()) == 1
