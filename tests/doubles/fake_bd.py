#!/usr/bin/env python3
"""A fake ``bd`` (beads 1.x) for tests: the commands and JSON shapes gc-beads-k8s uses.

Runs inside the runner pod on a bare interpreter (standard library only, so
``json``). The "Dolt server" is a directory: ``$GC_FAKE_DOLT_ROOT/<host>_<port>``
must exist (else "connection refused"), and each database is a subdirectory
holding ``issues.json`` and ``config.json`` guarded by an ``flock``, so
parallel creates get distinct ids. ``.beads/metadata.json`` in the scope
(``$BEADS_DIR``) names the server and database, as bd's does.

The command line is parsed as cobra/pflag parse real bd's, against ``FLAGS``:
the flags each bd command really registers, taken from the bd sources (see
the table). Any other flag fails the way cobra fails (``Error: unknown flag:
--x``, exit 1), so an argv the runner builds with a flag real bd lacks breaks
the tests instead of production. Values are checked with bd's own syntax
(ints, bools, ``--priority`` 0-4/P0-P4, ``--defer``/``--due`` time layers).

Set ``GC_FAKE_BD_STRICT_PREFIX=1`` to reject ``config set issue_prefix`` like
bd >= 1.0.3. Set ``GC_FAKE_BD_LOG=<file>`` to append one JSON line per call
(``{"argv": [...], "rc": N, "error": "..."}``).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import random
import re
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

Obj = dict[str, Any]
Flags = dict[str, list[str]]

# --------------------------------------------------------------------------- flag table
#: pflag value kinds: Bool, String, Int, StringSlice (CSV, repeatable), StringArray.
BOOL, STRING, INT, SLICE, ARRAY = "bool", "string", "int", "stringSlice", "stringArray"


class Flag(NamedTuple):
    """One flag as cobra registers it: long name, pflag kind, shorthand."""

    name: str
    kind: str = STRING
    short: str = ""


def _b(name: str, short: str = "") -> Flag:
    return Flag(name, BOOL, short)


def _s(name: str, short: str = "") -> Flag:
    return Flag(name, STRING, short)


# Sources (steveyegge/beads module; read in the gascity/beads and gastownhall/beads
# mirrors). gascity/beads@ab5e802 is bd 1.1.0 (cmd/bd/version.go); the other commits
# are the stored versions of that file. Only flags present in the version(s) read
# are listed; flags that appeared later (e.g. update --if-revision) are left out.

#: cmd/bd/main.go init() (gascity/beads@02ac232): rootCmd.PersistentFlags().
PERSISTENT = (
    _s("db"), _s("actor"), _b("json"), _s("format"), _b("sandbox"), _b("readonly"),
    _s("dolt-auto-commit"), _b("profile"), _b("verbose", "v"), _b("quiet", "q"),
)

#: cmd/bd/flags.go registerCommonIssueFlags (gastownhall/beads@6ea9d36), create+update.
COMMON_ISSUE = (
    _s("assignee", "a"), _s("description", "d"), _s("body"), _s("message", "m"),
    _s("body-file"), _s("description-file"), _b("stdin"), _s("design"), _s("design-file"),
    _s("acceptance"), _s("notes"), _s("append-notes"), _s("external-ref"),
)

FLAGS: dict[str, tuple[Flag, ...]] = {
    # cmd/bd/create.go init() (gascity/beads@ab5e802 = v1.1.0; same names at
    # gastownhall/beads@0ac14ef except --prefix, dropped there, so not listed).
    "create": (
        _s("file", "f"), _s("graph"), _s("title"), _b("silent"), _b("dry-run"),
        _s("priority", "p"), _s("type", "t"), _s("status", "s"), *COMMON_ISSUE, _s("spec-id"),
        Flag("labels", SLICE, "l"), _s("skills"), _s("context"), Flag("label", SLICE), _s("id"),
        _s("parent"), _b("no-inherit-labels"), Flag("deps", SLICE), _s("waits-for"),
        _s("waits-for-gate"), _b("force"), _s("repo"), Flag("estimate", INT, "e"),
        _b("ephemeral"), _b("no-history"), _s("mol-type"), _s("wisp-type"), _b("validate"),
        _s("event-category"), _s("event-actor"), _s("event-target"), _s("event-payload"),
        _s("due"), _s("defer"), _s("metadata"),
    ),
    # cmd/bd/update.go init() (gascity/beads@3652538).
    "update": (
        _s("status", "s"), _s("priority", "p"), _s("title"), _s("type", "t"), *COMMON_ISSUE,
        _b("allow-empty-description"), _s("spec-id"), _s("acceptance-criteria"),
        Flag("estimate", INT, "e"), Flag("add-label", SLICE), Flag("remove-label", SLICE),
        Flag("set-labels", SLICE), _s("parent"), _b("claim"), _b("force"), _s("if-assignee"),
        _s("if-status"), _s("session"), _s("due"), _s("defer"), _s("await-id"), _b("ephemeral"),
        _b("persistent"), _b("no-history"), _b("history"), _s("metadata"),
        Flag("set-metadata", ARRAY), Flag("unset-metadata", ARRAY),
    ),
    # cmd/bd/show.go init() (gastownhall/beads@131b97c).
    "show": (
        _b("thread"), _b("short"), _b("long"), _b("refs"), _b("children"), _s("as-of"),
        Flag("id", ARRAY), _b("local-time"), _b("watch", "w"), _b("current"),
        _b("include-dependents"), _b("include-comments"), _b("brief-deps"),
        Flag("comments-tail", INT),
    ),
    # cmd/bd/close.go init() + registerCloseReasonFlag (gascity/beads@278f4e9).
    "close": (
        Flag("reason", ARRAY, "r"), _s("resolution"), _s("message", "m"), _s("comment"),
        _s("reason-file"), _b("force", "f"), _b("continue"), _b("no-auto"), _b("suggest-next"),
        _b("claim-next"), _s("session"),
    ),
    # cmd/bd/reopen.go init() (gascity/beads@12ff364).
    "reopen": (_s("reason", "r"),),
    # cmd/bd/list.go init() (gascity/beads@026a975).
    "list": (
        _s("status", "s"), _s("state"), _s("priority", "p"), _s("assignee", "a"), _s("type", "t"),
        Flag("label", SLICE, "l"), Flag("label-any", SLICE), _s("label-pattern"),
        _s("label-regex"), _s("title"), _s("spec"), _s("id"), Flag("limit", INT, "n"),
        _s("format"), _b("all"), _b("long"), _s("sort"), _b("reverse", "r"), _s("title-contains"),
        _s("desc-contains"), _s("notes-contains"), _s("created-after"), _s("created-before"),
        _s("updated-after"), _s("updated-before"), _s("closed-after"), _s("closed-before"),
        _b("empty-description"), _b("no-assignee"), _b("no-labels"), _s("priority-min"),
        _s("priority-max"), _b("pinned"), _b("no-pinned"), _b("include-templates"),
        _b("include-gates"), _b("include-infra"), Flag("exclude-type", SLICE), _s("parent"),
        _s("filter-parent"), _b("no-parent"), _s("mol-type"), _s("wisp-type"), _b("deferred"),
        _s("defer-after"), _s("defer-before"), _s("due-after"), _s("due-before"), _b("overdue"),
        _b("pretty"), _b("tree"), _b("flat"), _b("watch", "w"), Flag("metadata-field", ARRAY),
        _s("has-metadata-key"), _b("no-pager"), _b("ready"), _s("rig"),
    ),
    # cmd/bd/ready.go init() (gascity/beads@7c9f9f6).
    "ready": (
        Flag("limit", INT, "n"), Flag("offset", INT), Flag("priority", INT, "p"),
        _s("assignee", "a"), _b("unassigned", "u"), _s("sort", "s"), Flag("label", SLICE, "l"),
        Flag("label-any", SLICE), Flag("exclude-label", SLICE), _s("type", "t"), _s("mol"),
        _s("parent"), _s("mol-type"), _b("pretty"), _b("plain"), _b("include-deferred"),
        _b("include-ephemeral"), _b("gated"), Flag("exclude-type", SLICE), _b("explain"),
        _b("claim"), Flag("metadata-field", ARRAY), _s("has-metadata-key"),
    ),
    # cmd/bd/delete.go init() (gastownhall/beads@21f1390; --if-revision is newer, left out).
    "delete": (_b("force", "f"), _s("from-file"), _b("dry-run"), _b("cascade")),
    # cmd/bd/dep.go init() (gastownhall/beads@028970d).
    "dep add": (_s("type", "t"), _s("blocked-by"), _s("depends-on")),
    "dep remove": (),
    "dep list": (_s("direction"), _s("type", "t")),
    # cmd/bd/config.go (gascity/beads@ab5e802): set/get take positional args only.
    "config set": (),
    "config get": (),
    # cmd/bd/init.go (flags read by RunE at gastownhall/beads@01c95cb; the 1.0-era
    # init() block registers the same names; --server-port is an Int).
    "init": (
        _s("prefix", "p"), _b("quiet", "q"), _b("contributor"), _b("team"), _b("stealth"),
        _b("setup-exclude"), _b("skip-hooks"), _b("skip-agents"), _b("force"), _b("from-jsonl"),
        _s("destroy-token"), _s("agents-template"), _s("agents-profile"), _s("agents-file"),
        _b("non-interactive"), _s("role"), _s("backend"), _b("server"), _s("server-host"),
        Flag("server-port", INT), _s("server-user"), _s("database"), _b("shared-server"),
    ),
    # cmd/bd/purge.go init() (gastownhall/beads@23576b6).
    "purge": (
        _b("force", "f"), _b("dry-run"), _s("older-than"), Flag("limit", INT), _b("wisps-plane"),
        _s("pattern"), Flag("exclude-label", SLICE),
    ),
    # cmd/bd/version.go (gascity/beads@ab5e802): no flags of its own.
    "version": (),
}
#: cobra aliases (create.go, close.go, show.go, dep.go).
ALIASES = {"new": "create", "done": "close", "view": "show", "dep rm": "dep remove"}
#: Positional-argument rules (cobra Args) of the commands that check them.
EXACT_ARGS = {"config set": 2, "config get": 1, "dep remove": 2, "dep list": 1}

# --------------------------------------------------------------------------- bd constants
#: internal/types built-in issue types (create/update --type help), plus aliases.
BUILTIN_TYPES = {"bug", "feature", "task", "epic", "chore", "decision", "spike", "story",
                 "milestone"}
TYPE_ALIASES = {"enhancement": "feature", "feat": "feature", "dec": "decision",
                "adr": "decision", "mr": "merge-request", "mol": "molecule"}
STATUSES = {"open", "in_progress", "blocked", "deferred", "closed", "pinned", "hooked"}
INFRA = {"agent", "rig", "role", "message"}


class Fail(Exception):
    pass


# --------------------------------------------------------------------------- pflag parsing
def _parse_bool(text: str, shown: str) -> str:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return "true"
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return "false"
    raise Fail(f'invalid argument "{text}" for "{shown}" flag: strconv.ParseBool: '
               f'parsing "{text}": invalid syntax')


def _store(flags: Flags, flag: Flag, value: str, shown: str) -> None:
    if flag.kind == BOOL:
        value = _parse_bool(value, shown)
    elif flag.kind == INT:
        try:
            int(value, 0)
        except ValueError:
            raise Fail(f'invalid argument "{value}" for "{shown}" flag: strconv.ParseInt: '
                       f'parsing "{value}": invalid syntax') from None
    if flag.kind == SLICE:
        items = next(csv.reader([value])) if value else []
        flags.setdefault(flag.name, []).extend(items)
    else:
        flags.setdefault(flag.name, []).append(value)


def parse(table: tuple[Flag, ...], argv: list[str]) -> tuple[list[str], Flags]:
    """Split argv into positional args and flags as pflag does (``--`` ends flags)."""
    by_long = {f.name: f for f in table}
    by_short = {f.short: f for f in table if f.short}
    pos: list[str] = []
    flags: Flags = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        i += 1
        if tok == "--":
            pos.extend(argv[i:])
            break
        if tok.startswith("--"):
            name, eq, value = tok[2:].partition("=")
            flag = by_long.get(name)
            if flag is None:
                raise Fail(f"unknown flag: --{name}")
            shown = f"-{flag.short}, --{name}" if flag.short else f"--{name}"
            if not eq:
                if flag.kind == BOOL:
                    value = "true"
                elif i < len(argv):
                    value, i = argv[i], i + 1
                else:
                    raise Fail(f"flag needs an argument: --{name}")
            _store(flags, flag, value, shown)
        elif tok.startswith("-") and tok != "-":
            rest = tok[1:]
            while rest:
                char, rest = rest[0], rest[1:]
                flag = by_short.get(char)
                if flag is None:
                    raise Fail(f"unknown shorthand flag: '{char}' in {tok}")
                shown = f"-{char}, --{flag.name}"
                if flag.kind == BOOL:
                    value = "true"
                    if rest.startswith("="):
                        value, rest = rest[1:], ""
                else:
                    if rest:
                        value, rest = rest.removeprefix("="), ""
                    elif i < len(argv):
                        value, i = argv[i], i + 1
                    else:
                        raise Fail(f"flag needs an argument: '{char}' in -{char}")
                _store(flags, flag, value, shown)
        else:
            pos.append(tok)
    return pos, flags


def one(flags: Flags, key: str, default: str | None = None) -> str | None:
    values = flags.get(key)
    return values[-1] if values else default


def on(flags: Flags, key: str) -> bool:
    return one(flags, key) == "true"


def many(flags: Flags, *keys: str) -> list[str]:
    return [v for key in keys for v in flags.get(key, [])]


# --------------------------------------------------------------------------- bd value syntax
def now_dt() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    """A time as Go marshals it (RFC3339Nano: no trailing zeros in the fraction), UTC."""
    text = moment.astimezone(UTC).isoformat().replace("+00:00", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "Z"


def now() -> str:
    return stamp(now_dt())


_COMPACT = re.compile(r"^([+-]?)(\d+)([hdwmy])$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_time(text: str) -> datetime:
    """internal/timeparsing ParseRelativeTime (gastownhall/beads@0a1615f): compact
    duration, then YYYY-MM-DD, RFC3339, ISO without zone, "date time", then words."""
    base = now_dt()
    match = _COMPACT.match(text)
    if match:
        amount = int(match[2]) * (-1 if match[1] == "-" else 1)
        days = {"h": 0, "d": 1, "w": 7, "m": 30, "y": 365}[match[3]]
        return base + (timedelta(hours=amount) if match[3] == "h" else timedelta(days=amount * days))
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    if _RFC3339.match(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    for layout in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            pass
    lower = text.strip().lower()
    if lower in ("today", "tomorrow", "yesterday"):
        return base + timedelta(days={"today": 0, "tomorrow": 1, "yesterday": -1}[lower])
    words = lower.split()
    if len(words) == 2 and words[0] == "next" and words[1] in _WEEKDAYS:
        diff = (_WEEKDAYS.index(words[1]) - base.weekday()) % 7 or 7
        return base + timedelta(days=diff)
    raise Fail(f"cannot parse time expression: {text!r}")


def time_flag(flags: Flags, name: str) -> str | None:
    value = one(flags, name)
    if value is None or value == "":
        return value
    try:
        return stamp(parse_time(value))
    except (Fail, ValueError):
        raise Fail(f'invalid --{name} format "{value}". Examples: +1h, tomorrow, next monday, '
                   "2025-01-15") from None


def priority(text: str) -> int:
    """validation.ValidatePriority: 0-4 or P0-P4."""
    raw = text[1:] if text[:1] in ("P", "p") else text
    if raw.isdigit() and 0 <= int(raw) <= 4:
        return int(raw)
    raise Fail(f'invalid priority "{text}" (expected 0-4 or P0-P4)')


def out(data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")


def read_stdin() -> str:
    return sys.stdin.read() if not sys.stdin.closed else ""


def description(flags: Flags) -> tuple[str, bool, bool]:
    """flags.go getDescriptionFlag: (value, changed, from external input).

    ``--stdin`` and ``-`` (for --description/--body/--message) read stdin as is;
    ``--body-file``/``--description-file`` read a file (``-`` = stdin)."""
    if on(flags, "stdin"):
        return read_stdin(), True, True
    path = one(flags, "body-file") or one(flags, "description-file")
    if path is not None:
        if any(k in flags for k in ("description", "body", "message")):
            raise Fail("cannot specify both --body-file and --description/--body/--message")
        if path == "-":
            return read_stdin(), True, True
        with open(path) as handle:
            return handle.read(), True, True
    given = [flags[k][-1] for k in ("description", "body", "message") if k in flags]
    if "-" in given:
        return read_stdin(), True, True
    if len(set(given)) > 1:
        raise Fail("cannot specify both --description and --body with different values")
    return (given[0], True, False) if given else ("", False, False)


def metadata_flag(text: str) -> Obj:
    if text.startswith("@"):
        with open(text[1:]) as handle:
            text = handle.read()
    try:
        data = json.loads(text)
    except ValueError:
        raise Fail("invalid JSON in --metadata: must be valid JSON") from None
    if not isinstance(data, dict):
        raise Fail("invalid --metadata: must be a JSON object")
    return data


# --------------------------------------------------------------------------- storage
def beads_dir() -> str:
    explicit = os.environ.get("BEADS_DIR")
    if explicit:
        return explicit
    here = os.getcwd()
    while True:
        if os.path.isdir(os.path.join(here, ".beads")):
            return os.path.join(here, ".beads")
        parent = os.path.dirname(here)
        if parent == here:
            return ""
        here = parent


def server_dir(host: str, port: str) -> str:
    root = os.environ.get("GC_FAKE_DOLT_ROOT", "/var/tmp/gc-fake-dolt")
    path = os.path.join(root, f"{host}_{port}")
    if not os.path.isdir(path):
        raise Fail(f"failed to connect to dolt server at {host}:{port}: dial tcp: "
                   "connect: connection refused")
    return path


class Db:
    def __init__(self, path: str) -> None:
        self.path = path

    @contextmanager
    def locked(self) -> Any:
        os.makedirs(self.path, exist_ok=True)
        with open(os.path.join(self.path, "lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self.issues: dict[str, Obj] = self._load("issues.json")
            self.config: dict[str, str] = self._load("config.json")
            self.dirty = False
            yield self
            if self.dirty:
                self._save("issues.json", self.issues)
                self._save("config.json", self.config)

    def _load(self, name: str) -> Any:
        try:
            with open(os.path.join(self.path, name)) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def _save(self, name: str, data: Any) -> None:
        tmp = os.path.join(self.path, name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, os.path.join(self.path, name))

    def get(self, ident: str) -> Obj:
        if ident not in self.issues:
            raise Fail(f'no issue found matching "{ident}"')
        return self.issues[ident]

    def custom(self, key: str) -> set[str]:
        return {v.strip() for v in self.config.get(key, "").split(",") if v.strip()}

    def issue_type(self, kind: str) -> str:
        kind = TYPE_ALIASES.get(kind, kind)
        if kind not in BUILTIN_TYPES | self.custom("types.custom"):
            raise Fail(f'invalid issue type "{kind}" (custom types require types.custom config)')
        return kind

    def status(self, value: str) -> str:
        if value not in STATUSES | self.custom("status.custom"):
            raise Fail(f'invalid status "{value}" (built-in: open, in_progress, blocked, '
                       "deferred, closed, pinned, hooked; or configure custom statuses via "
                       "'bd config set status.custom')")
        return value

    def new_id(self, parent: str | None, wisp: bool) -> str:
        if parent:
            n = 1 + sum(1 for k in self.issues if k.startswith(parent + ".")
                        and "." not in k[len(parent) + 1 :])
            return f"{parent}.{n}"
        prefix = self.config.get("issue_prefix", "bd") + ("-wisp" if wisp else "")
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
        for length in (3, 4, 5, 6, 7, 8) * 4:
            ident = prefix + "-" + "".join(random.choice(alphabet) for _ in range(length))
            if ident not in self.issues:
                return ident
        raise Fail("could not allocate an id")


def open_db() -> Db:
    bdir = beads_dir()
    meta_path = os.path.join(bdir, "metadata.json") if bdir else ""
    if not meta_path or not os.path.isfile(meta_path):
        sys.stderr.write("Error: no beads database found\n"
                         "Hint: run 'bd doctor' to diagnose, or 'bd init' to create a new "
                         "database\n")
        raise SystemExit(1)
    with open(meta_path) as handle:
        meta = json.load(handle)
    return Db(os.path.join(server_dir(meta["dolt_server_host"], str(meta["dolt_server_port"])),
                           meta["dolt_database"]))


def view(issue: Obj) -> Obj:
    shown = dict(issue)
    shown["dependencies"] = [dict(d) for d in issue.get("dependencies", [])]
    parent = next((d["depends_on_id"] for d in issue.get("dependencies", [])
                   if d["type"] == "parent-child"), None)
    if parent:
        shown["parent"] = parent
    return shown


# --------------------------------------------------------------------------- commands
def cmd_init(pos: list[str], flags: Flags) -> None:
    prefix = one(flags, "prefix")
    if not prefix:
        raise Fail("a prefix is required (-p)")
    if one(flags, "role") not in (None, "maintainer", "contributor"):
        raise Fail(f'invalid role "{one(flags, "role")}" (valid values: maintainer, contributor)')
    host = one(flags, "server-host") or "127.0.0.1"
    port = str(int(one(flags, "server-port") or "0", 0) or 3307)
    database = one(flags, "database") or prefix.replace("-", "_").replace(".", "_")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", database):
        raise Fail(f"invalid database name {database!r}")
    server = server_dir(host, port)
    bdir = os.environ.get("BEADS_DIR") or os.path.join(os.getcwd(), ".beads")
    db = Db(os.path.join(server, database))
    with db.locked():
        if "issue_prefix" not in db.config:
            db.config["issue_prefix"] = prefix
            db.config["_project_id"] = f"{random.getrandbits(128):032x}"
            db.dirty = True
        project = db.config["_project_id"]
    os.makedirs(bdir, exist_ok=True)
    with open(os.path.join(bdir, "metadata.json"), "w") as handle:
        json.dump({"backend": "dolt", "dolt_mode": "server", "dolt_server_host": host,
                   "dolt_server_port": int(port), "dolt_database": database,
                   "project_id": project}, handle)
    if not on(flags, "quiet"):
        print(f"bd initialized with prefix {prefix}")


def cmd_config_get(pos: list[str], flags: Flags) -> None:
    with open_db().locked() as db:
        value = db.config.get(pos[0], "")
        if on(flags, "json"):
            out({"key": pos[0], "value": value})
        else:
            print(value or f"{pos[0]} (not set)")


def cmd_config_set(pos: list[str], flags: Flags) -> None:
    key, value = pos
    if key == "issue_prefix" and os.environ.get("GC_FAKE_BD_STRICT_PREFIX"):
        raise Fail("issue_prefix cannot be set via 'bd config set'")
    with open_db().locked() as db:
        db.config[key] = value
        db.dirty = True
    if on(flags, "json"):
        out({"key": key, "value": value})


def _add_deps(db: Db, ident: str, issue: Obj, specs: list[str]) -> None:
    """create_deps.go parseDepSpec: bare id / depends-on: / blocked-by: → this issue
    blocks on id; ``blocks:id`` swaps the direction; other ``type:id`` as given."""
    for raw in (s.strip() for s in specs):
        if not raw:
            continue
        explicit, _, target = raw.partition(":")
        kind, target = (explicit.strip(), target.strip()) if target else ("blocks", raw)
        swap = bool(target) and kind == "blocks" and ":" in raw
        kind = "blocks" if kind in ("depends-on", "blocked-by") else kind
        db.get(target)
        if swap:
            db.issues[target]["dependencies"].append(
                {"issue_id": target, "depends_on_id": ident, "type": kind})
        else:
            issue["dependencies"].append({"issue_id": ident, "depends_on_id": target, "type": kind})


def cmd_create(pos: list[str], flags: Flags) -> None:
    if len(pos) > 1:
        raise Fail(f"accepts at most 1 arg(s), received {len(pos)}")
    title = one(flags, "title")
    if pos and title is not None and pos[0] != title:
        raise Fail("cannot specify different titles as both positional argument and --title flag")
    title = title if title is not None else (pos[0] if pos else "")
    if not title.strip():
        raise Fail("title required (or use --file to create from markdown)")
    wisp, no_history = on(flags, "ephemeral"), on(flags, "no-history")
    if wisp and no_history:
        raise Fail("--ephemeral and --no-history are mutually exclusive")
    text, _, _ = description(flags)
    level = priority(one(flags, "priority", "2") or "2")
    defer_until, due_at = time_flag(flags, "defer"), time_flag(flags, "due")
    meta = metadata_flag(one(flags, "metadata") or "{}") if "metadata" in flags else {}
    with open_db().locked() as db:
        kind = db.issue_type(one(flags, "type", "task") or "task")
        initial = db.status(one(flags, "status") or "open")
        parent = one(flags, "parent")
        if parent:
            db.get(parent)
        ident = db.new_id(parent, wisp)
        created = now()
        issue: Obj = {
            "id": ident, "title": title, "description": text, "status": initial,
            "priority": level, "issue_type": kind, "created_at": created, "updated_at": created,
            "labels": [], "dependencies": [], "metadata": meta,
        }
        for flag, key in (("assignee", "assignee"), ("external-ref", "external_ref")):
            if one(flags, flag):
                issue[key] = one(flags, flag)
        for key, value in (("defer_until", defer_until), ("due_at", due_at)):
            if value:
                issue[key] = value
        if wisp:
            issue["ephemeral"] = True
        if no_history:
            issue["no_history"] = True
        for value in many(flags, "labels", "label"):
            if value not in issue["labels"]:
                issue["labels"].append(value)
        if parent:
            issue["dependencies"].append({"issue_id": ident, "depends_on_id": parent,
                                          "type": "parent-child"})
            if not on(flags, "no-inherit-labels"):
                for value in db.issues[parent]["labels"]:
                    if value not in issue["labels"]:
                        issue["labels"].append(value)
        _add_deps(db, ident, issue, many(flags, "deps"))
        db.issues[ident] = issue
        db.dirty = True
        out(view(issue))


def cmd_show(pos: list[str], flags: Flags) -> None:
    ids = pos + many(flags, "id")
    if not ids:
        raise Fail("at least one issue ID is required (use positional args, --id flag, or "
                   "--current)")
    with open_db().locked() as db:
        found = []
        for ident in ids:
            if ident in db.issues:
                found.append(view(db.issues[ident]))
            else:
                sys.stderr.write(f"Issue {ident} not found\n")
        if not found:
            raise Fail("no issues found matching the provided IDs")
        out(found)


def cmd_update(pos: list[str], flags: Flags) -> None:
    if not pos:
        raise Fail("no issue ID provided and no last touched issue")
    if "metadata" in flags and ("set-metadata" in flags or "unset-metadata" in flags):
        raise Fail("cannot combine --metadata with --set-metadata or --unset-metadata")
    pairs = (("ephemeral", "persistent"), ("no-history", "ephemeral"), ("no-history", "history"))
    for first, second in pairs:
        if first in flags and second in flags:
            raise Fail(f"cannot specify both --{first} and --{second} flags")
    text, text_changed, external = description(flags)
    if text_changed and text == "" and external and not on(flags, "allow-empty-description"):
        raise Fail("empty description from stdin/file requires --allow-empty-description")
    if "title" in flags and not (one(flags, "title") or "").strip():
        raise Fail("title cannot be empty")
    level = priority(one(flags, "priority") or "") if "priority" in flags else None
    defer_until, due_at = time_flag(flags, "defer"), time_flag(flags, "due")
    meta = metadata_flag(one(flags, "metadata") or "") if "metadata" in flags else None
    if not set(flags) & UPDATE_FIELDS:
        print("No updates specified")
        return
    with open_db().locked() as db:
        shown, failures = [], []
        for ident in pos:
            if ident not in db.issues:
                sys.stderr.write(f'Error resolving {ident}: no issue found matching "{ident}"\n')
                failures.append(ident)
                continue
            issue = db.issues[ident]
            if "status" in flags:
                issue["status"] = db.status(one(flags, "status") or "")
            if "type" in flags:
                issue["issue_type"] = db.issue_type(one(flags, "type") or "")
            if "title" in flags:
                issue["title"] = (one(flags, "title") or "").strip()
            if text_changed:
                issue["description"] = text
            if "assignee" in flags:
                issue["assignee"] = one(flags, "assignee")
            if "external-ref" in flags:
                issue["external_ref"] = one(flags, "external-ref") or None
            if level is not None:
                issue["priority"] = level
            if "claim" in flags:
                issue["assignee"], issue["status"] = os.environ.get("USER", "bd"), "in_progress"
            if "parent" in flags:
                issue["dependencies"] = [d for d in issue["dependencies"]
                                         if d["type"] != "parent-child"]
                if one(flags, "parent"):
                    db.get(one(flags, "parent") or "")
                    issue["dependencies"].append({"issue_id": ident, "type": "parent-child",
                                                  "depends_on_id": one(flags, "parent")})
            if "set-labels" in flags:
                issue["labels"] = []
            for value in many(flags, "set-labels", "add-label"):
                if value not in issue["labels"]:
                    issue["labels"].append(value)
            gone = set(many(flags, "remove-label"))
            issue["labels"] = [v for v in issue["labels"] if v not in gone]
            if meta is not None:
                issue["metadata"].update(meta)
            for value in many(flags, "set-metadata"):
                key, _, raw = value.partition("=")
                issue["metadata"][key] = raw  # stored as a JSON string (GH#4146)
            for key in many(flags, "unset-metadata"):
                issue["metadata"].pop(key, None)
            if "defer" in flags:
                issue["defer_until"] = defer_until
                if defer_until and "status" not in flags and defer_until > now():
                    issue["status"] = "deferred"
            if "due" in flags:
                issue["due_at"] = due_at
            for name, key, state in (("ephemeral", "ephemeral", True),
                                     ("persistent", "ephemeral", False),
                                     ("no-history", "no_history", True),
                                     ("history", "no_history", False)):
                if name in flags:
                    issue[key] = state
            if issue["status"] == "closed":
                issue.setdefault("closed_at", now())
            issue["updated_at"] = now()
            db.dirty = True
            shown.append(view(issue))
        if shown:
            out(shown)
        if failures:
            raise Fail(f"{len(failures)} of {len(pos)} issues failed to update")


#: update flags that make an edit (update.go: the `updates` map, plus --claim).
UPDATE_FIELDS = {
    "status", "priority", "title", "assignee", "description", "body", "message", "body-file",
    "description-file", "stdin", "design", "design-file", "notes", "append-notes",
    "acceptance", "acceptance-criteria", "external-ref", "spec-id", "estimate", "type",
    "add-label", "remove-label", "set-labels", "parent", "await-id", "due", "defer",
    "ephemeral", "persistent", "no-history", "history", "metadata", "set-metadata",
    "unset-metadata", "claim",
}


def cmd_close(pos: list[str], flags: Flags) -> None:
    force = on(flags, "force")
    with open_db().locked() as db:
        for ident in pos:
            if ident not in db.issues:
                raise Fail(f'resolving ID {ident}: no issue found matching "{ident}"')
        shown, settled = [], 0
        for ident in pos:
            issue = db.issues[ident]
            open_children = [i for i in db.issues.values() if i["status"] != "closed" and any(
                d["type"] == "parent-child" and d["depends_on_id"] == ident
                for d in i["dependencies"])]
            if open_children and not force:
                sys.stderr.write(f"cannot close {ident}: {len(open_children)} open child "
                                 "issue(s); close children first or use --force to override\n")
                continue
            if issue["status"] != "closed":
                issue["status"] = "closed"
                issue["closed_at"] = now()
                issue["updated_at"] = now()
                db.dirty = True
            settled += 1
            shown.append(view(issue))
        if shown:
            out(shown)
        if pos and not settled:
            raise SystemExit(1)


def cmd_reopen(pos: list[str], flags: Flags) -> None:
    if not pos:
        raise Fail("requires at least 1 arg(s), only received 0")
    with open_db().locked() as db:
        shown, failed = [], False
        for ident in pos:
            if ident not in db.issues:
                sys.stderr.write(f'Error resolving {ident}: no issue found matching "{ident}"\n')
                failed = True
                continue
            issue = db.issues[ident]
            if issue["status"] == "open":
                sys.stderr.write(f"{ident} is already open\n")
                continue
            issue["status"] = "open"
            issue.pop("closed_at", None)
            issue["updated_at"] = now()
            db.dirty = True
            shown.append(view(issue))
        if shown:
            out(shown)
        if failed:
            raise SystemExit(1)


def _visible(issue: Obj, flags: Flags) -> bool:
    kind = issue.get("issue_type")
    if kind in INFRA and not on(flags, "include-infra"):
        return False
    return not (kind == "gate" and not on(flags, "include-gates"))


def _limit(items: list[Obj], flags: Flags, default: int) -> list[Obj]:
    count = int(one(flags, "limit") or str(default), 0)
    return items[:count] if count > 0 else items


def _matches(issue: Obj, flags: Flags) -> bool:
    kind = one(flags, "type")
    if kind is not None and issue.get("issue_type") != TYPE_ALIASES.get(kind, kind):
        return False
    if one(flags, "assignee") is not None and issue.get("assignee") != one(flags, "assignee"):
        return False
    labels = set(issue["labels"])
    if not set(many(flags, "label")) <= labels:
        return False
    if "label-any" in flags and not set(many(flags, "label-any")) & labels:
        return False
    return not (set(many(flags, "exclude-type")) & {issue.get("issue_type")})


def cmd_list(pos: list[str], flags: Flags) -> None:
    status = one(flags, "status") or one(flags, "state")
    parent = one(flags, "parent") or one(flags, "filter-parent")
    with open_db().locked() as db:
        items = []
        for issue in db.issues.values():
            if status is not None and issue["status"] != status:
                continue
            if status is None and issue["status"] == "closed" and not on(flags, "all"):
                continue
            if not _visible(issue, flags) or not _matches(issue, flags):
                continue
            shown = view(issue)
            if parent and shown.get("parent") != parent:
                continue
            items.append(shown)
        items.sort(key=lambda i: (i["created_at"], i["id"]))
        out(_limit(items, flags, 50))


def cmd_ready(pos: list[str], flags: Flags) -> None:
    with open_db().locked() as db:
        items = []
        stamp_now = now()
        for issue in db.issues.values():
            if issue["status"] != "open" or not _visible(issue, {}) or not _matches(issue, flags):
                continue
            if issue.get("ephemeral") and not on(flags, "include-ephemeral"):
                continue
            if (issue.get("defer_until") or "") > stamp_now and not on(flags, "include-deferred"):
                continue
            if on(flags, "unassigned") and issue.get("assignee"):
                continue
            blocked = any(d["type"] == "blocks" and d["depends_on_id"] in db.issues
                          and db.issues[d["depends_on_id"]]["status"] != "closed"
                          for d in issue["dependencies"])
            if not blocked:
                items.append(view(issue))
        items.sort(key=lambda i: (i.get("priority", 2), i["created_at"], i["id"]))
        out(_limit(items, flags, 100))


def cmd_delete(pos: list[str], flags: Flags) -> None:
    if not pos:
        raise Fail("no issue IDs provided")
    with open_db().locked() as db:
        missing = [i for i in pos if i not in db.issues]
        if missing:
            raise Fail(f"issue {missing[0]} not found" if len(pos) == 1
                       else f"issues not found: {', '.join(missing)}")
        if not on(flags, "force") or on(flags, "dry-run"):
            out({"preview": True, "dry_run": on(flags, "dry-run"), "issue_ids": pos,
                 "cascade": on(flags, "cascade"), "would_delete": len(pos)})
            return
        for ident in pos:
            del db.issues[ident]
            for issue in db.issues.values():
                issue["dependencies"] = [d for d in issue["dependencies"]
                                         if d["depends_on_id"] != ident]
        db.dirty = True
        out({"deleted": pos[0] if len(pos) == 1 else pos})


def cmd_dep_add(pos: list[str], flags: Flags) -> None:
    target = one(flags, "blocked-by") or one(flags, "depends-on")
    if target and len(pos) != 1:
        raise Fail("cannot use both positional depends-on-id and --blocked-by/--depends-on flag")
    if not target and len(pos) != 2:
        raise Fail(f"requires 2 arg(s), only received {len(pos)} (or use --blocked-by/--depends-on "
                   "flag)")
    target = target or pos[1]
    kind = one(flags, "type", "blocks") or ""
    if not kind or len(kind) > 50:
        raise Fail(f'invalid dependency type "{kind}": must be non-empty and at most 50 characters')
    if pos[0].startswith(target + "."):
        raise Fail(f"cannot add dependency: {pos[0]} is already a child of {target}")
    with open_db().locked() as db:
        issue = db.get(pos[0])
        db.get(target)
        issue["dependencies"] = [d for d in issue["dependencies"] if d["depends_on_id"] != target]
        issue["dependencies"].append({"issue_id": pos[0], "depends_on_id": target, "type": kind})
        db.dirty = True
        out({"status": "added", "issue_id": pos[0], "depends_on_id": target, "type": kind})


def cmd_dep_remove(pos: list[str], flags: Flags) -> None:
    with open_db().locked() as db:
        issue = db.get(pos[0])
        db.get(pos[1])
        issue["dependencies"] = [d for d in issue["dependencies"] if d["depends_on_id"] != pos[1]]
        db.dirty = True
        out({"status": "removed", "issue_id": pos[0], "depends_on_id": pos[1]})


def cmd_dep_list(pos: list[str], flags: Flags) -> None:
    direction = one(flags, "direction", "down") or "down"
    kind = one(flags, "type")
    with open_db().locked() as db:
        db.get(pos[0])
        items = []
        for issue in db.issues.values():
            for dep in issue["dependencies"]:
                if kind and dep["type"] != kind:
                    continue
                if direction == "up" and dep["depends_on_id"] == pos[0]:
                    items.append(view(issue) | {"dependency_type": dep["type"]})
                elif (direction != "up" and issue["id"] == pos[0]
                      and dep["depends_on_id"] in db.issues):
                    items.append(view(db.issues[dep["depends_on_id"]])
                                 | {"dependency_type": dep["type"]})
        out(items)


def cmd_purge(pos: list[str], flags: Flags) -> None:
    with open_db().locked() as db:
        doomed = [i for i, issue in db.issues.items()
                  if issue.get("ephemeral") and issue["status"] == "closed"]
        if on(flags, "dry-run"):
            out({"dry_run": True, "purge_count": len(doomed)})
            return
        if not on(flags, "force"):
            raise Fail(f"would purge {len(doomed)} issues; use --force")
        for ident in doomed:
            del db.issues[ident]
        db.dirty = True
        out({"purged_count": len(doomed)})


def cmd_version(pos: list[str], flags: Flags) -> None:
    if on(flags, "json"):
        out({"version": "1.1.0", "build": "fake"})
    else:
        print("bd version 1.1.0 (fake)")


COMMANDS = {
    "init": cmd_init, "config set": cmd_config_set, "config get": cmd_config_get,
    "create": cmd_create, "show": cmd_show, "update": cmd_update, "close": cmd_close,
    "reopen": cmd_reopen, "list": cmd_list, "ready": cmd_ready, "delete": cmd_delete,
    "dep add": cmd_dep_add, "dep remove": cmd_dep_remove, "dep list": cmd_dep_list,
    "purge": cmd_purge, "version": cmd_version,
}
assert set(COMMANDS) <= set(FLAGS)
PARENTS = ("dep", "config")


def command_of(argv: list[str]) -> tuple[str, list[str]]:
    """The command path (``"dep add"``) and the argv after it; cobra's lookup."""
    name = argv[0]
    rest = argv[1:]
    if name in PARENTS:
        if not rest or rest[0].startswith("-"):
            raise Fail(f'"bd {name}" requires a subcommand')
        name, rest = f"{name} {rest[0]}", rest[1:]
    name = ALIASES.get(name, name)
    if name not in FLAGS:
        parent, _, sub = name.rpartition(" ")
        raise Fail(f'unknown command "{sub}" for "bd{" " + parent if parent else ""}"')
    return name, rest


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: bd <command>\n")
        return 1
    if argv[0] in ("--version", "-V"):
        print("bd version 1.1.0 (fake)")
        return 0
    try:
        name, rest = command_of(argv)
        pos, flags = parse(PERSISTENT + FLAGS[name], rest)
        want = EXACT_ARGS.get(name)
        if want is not None and len(pos) != want:
            raise Fail(f"accepts {want} arg(s), received {len(pos)}")
        COMMANDS[name](pos, flags)
    except Fail as error:
        sys.stderr.write(f"Error: {error}\n")
        _log(argv, 1, str(error))
        return 1
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
        _log(argv, code, "")
        return code
    _log(argv, 0, "")
    return 0


def _log(argv: list[str], rc: int, error: str) -> None:
    path = os.environ.get("GC_FAKE_BD_LOG")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"argv": argv, "rc": rc, "error": error}) + "\n")


if __name__ == "__main__":
    delay = os.environ.get("GC_FAKE_BD_DELAY")
    if delay:
        time.sleep(float(delay))
    sys.exit(main(sys.argv[1:]))
