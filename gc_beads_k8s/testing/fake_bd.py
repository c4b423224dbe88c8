#!/usr/bin/env python3
"""A fake ``bd`` (beads 1.x) for tests: the commands and JSON shapes gc-beads-k8s uses.

Runs inside the runner pod on a bare interpreter (standard library only, so
``json``). The "Dolt server" is a directory: ``$GC_FAKE_DOLT_ROOT/<host>_<port>``
must exist (else "connection refused"), and each database is a subdirectory
holding ``issues.json`` and ``config.json`` guarded by an ``flock``, so
parallel creates get distinct ids. ``.beads/metadata.json`` in the scope
(``$BEADS_DIR``) names the server and database, as bd's does.

Set ``GC_FAKE_BD_STRICT_PREFIX=1`` to reject ``config set issue_prefix`` like
bd >= 1.0.3.
"""

from __future__ import annotations

import csv
import fcntl
import json  # noqa: TID251 - runs in the pod on a bare interpreter without orjson
import os
import random
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

INFRA = {"agent", "rig", "role", "message"}
VALUE_FLAGS = {"--server-host", "--server-port", "-p", "--prefix", "--database", "--role",
               "--type", "--direction", "--limit", "--title", "--status", "--assignee"}
BOOL_FLAGS = {"--json", "--all", "--server", "--skip-hooks", "--non-interactive", "--skip-agents",
              "--quiet", "--include-infra", "--include-gates", "--force", "--dry-run",
              "--ephemeral", "--no-history", "--no-inherit-labels", "--include-ephemeral"}
Obj = dict[str, Any]


class Fail(Exception):
    pass


def parse(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    pos: list[str] = []
    flags: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok.startswith("-") and len(tok) > 1:
            if "=" in tok and tok.startswith("--"):
                key, _, value = tok.partition("=")
            elif tok in BOOL_FLAGS:
                key, value = tok, "true"
            elif tok in VALUE_FLAGS and i + 1 < len(argv):
                key, value = tok, argv[i + 1]
                i += 1
            else:
                raise Fail(f"unknown flag: {tok}")
            flags.setdefault(key, []).append(value)
        else:
            pos.append(tok)
        i += 1
    return pos, flags


def one(flags: dict[str, list[str]], key: str, default: str | None = None) -> str | None:
    values = flags.get(key)
    return values[-1] if values else default


def csv_values(text: str) -> list[str]:
    return next(csv.reader([text])) if text else []


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def out(data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")


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

    def new_id(self, parent: str | None) -> str:
        if parent:
            n = 1 + sum(1 for k in self.issues if k.startswith(parent + ".")
                        and "." not in k[len(parent) + 1 :])
            return f"{parent}.{n}"
        prefix = self.config.get("issue_prefix", "bd")
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
        raise Fail("no beads database found (run 'bd init')")
    with open(meta_path) as handle:
        meta = json.load(handle)
    return Db(os.path.join(server_dir(meta["dolt_server_host"], str(meta["dolt_server_port"])),
                           meta["dolt_database"]))


def view(db: Db, issue: Obj) -> Obj:
    shown = dict(issue)
    shown["dependencies"] = [dict(d) for d in issue.get("dependencies", [])]
    parent = next((d["depends_on_id"] for d in issue.get("dependencies", [])
                   if d["type"] == "parent-child"), None)
    if parent:
        shown["parent"] = parent
    return shown


def cmd_init(pos: list[str], flags: dict[str, list[str]]) -> None:
    prefix = one(flags, "-p") or one(flags, "--prefix")
    if not prefix:
        raise Fail("a prefix is required (-p)")
    host = one(flags, "--server-host", "127.0.0.1") or "127.0.0.1"
    port = one(flags, "--server-port", "3307") or "3307"
    database = one(flags, "--database") or prefix.replace("-", "_").replace(".", "_")
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
    if not one(flags, "--quiet"):
        print(f"bd initialized with prefix {prefix}")


def cmd_config(pos: list[str], flags: dict[str, list[str]]) -> None:
    if len(pos) < 2 or pos[0] not in ("set", "get"):
        raise Fail("usage: bd config set|get <key> [value]")
    with open_db().locked() as db:
        if pos[0] == "get":
            value = db.config.get(pos[1], "")
            out({"key": pos[1], "value": value}) if one(flags, "--json") else print(value)
            return
        if len(pos) != 3:
            raise Fail("usage: bd config set <key> <value>")
        if pos[1] == "issue_prefix" and os.environ.get("GC_FAKE_BD_STRICT_PREFIX"):
            raise Fail("issue_prefix cannot be set via 'bd config set'")
        db.config[pos[1]] = pos[2]
        db.dirty = True


def _metadata(text: str) -> Obj:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise Fail(f"invalid --metadata JSON: {error}") from None
    if not isinstance(data, dict):
        raise Fail("--metadata must be a JSON object")
    return data


def cmd_create(pos: list[str], flags: dict[str, list[str]]) -> None:
    title = one(flags, "--title") or (pos[0] if pos else "")
    if not title:
        raise Fail("title required")
    with open_db().locked() as db:
        parent = one(flags, "--parent")
        if parent:
            db.get(parent)
        ident = db.new_id(parent)
        stamp = now()
        issue: Obj = {
            "id": ident, "title": title, "description": one(flags, "--description", ""),
            "status": "open", "priority": int(one(flags, "--priority", "2") or 2),
            "issue_type": one(flags, "--type", "task"), "created_at": stamp,
            "updated_at": stamp, "labels": [], "dependencies": [], "metadata": {},
        }
        for flag, key in (("--assignee", "assignee"), ("--external-ref", "external_ref"),
                          ("--defer", "defer_until")):
            if one(flags, flag):
                issue[key] = one(flags, flag)
        for flag, key in (("--ephemeral", "ephemeral"), ("--no-history", "no_history")):
            if one(flags, flag):
                issue[key] = True
        for value in flags.get("--labels", []):
            issue["labels"] += [v for v in csv_values(value) if v not in issue["labels"]]
        if parent:
            issue["dependencies"].append({"issue_id": ident, "depends_on_id": parent,
                                          "type": "parent-child"})
        for value in flags.get("--deps", []):
            for dep in csv_values(value):
                issue["dependencies"].append({"issue_id": ident, "depends_on_id": dep,
                                              "type": "blocks"})
        if one(flags, "--metadata"):
            issue["metadata"] = _metadata(one(flags, "--metadata") or "{}")
        db.issues[ident] = issue
        db.dirty = True
        out(view(db, issue))


def cmd_show(pos: list[str], flags: dict[str, list[str]]) -> None:
    with open_db().locked() as db:
        out([view(db, db.get(ident)) for ident in pos])


def cmd_update(pos: list[str], flags: dict[str, list[str]]) -> None:
    if not pos:
        raise Fail("issue id required")
    with open_db().locked() as db:
        issue = db.get(pos[0])
        changed = False
        for flag, key in (("--title", "title"), ("--status", "status"),
                          ("--description", "description"), ("--assignee", "assignee"),
                          ("--type", "issue_type")):
            value = one(flags, flag)
            if value is not None:
                issue[key] = value
                changed = True
        if one(flags, "--priority") is not None:
            issue["priority"] = int(one(flags, "--priority") or 0)
            changed = True
        if one(flags, "--parent") is not None:
            issue["dependencies"] = [d for d in issue["dependencies"]
                                     if d["type"] != "parent-child"]
            if one(flags, "--parent"):
                db.get(one(flags, "--parent") or "")
                issue["dependencies"].append({"issue_id": pos[0], "type": "parent-child",
                                              "depends_on_id": one(flags, "--parent")})
            changed = True
        for value in flags.get("--add-label", []):
            issue["labels"] += [v for v in csv_values(value) if v not in issue["labels"]]
            changed = True
        for value in flags.get("--remove-label", []):
            gone = set(csv_values(value))
            issue["labels"] = [v for v in issue["labels"] if v not in gone]
            changed = True
        for value in flags.get("--metadata", []):
            issue["metadata"].update(_metadata(value))
            changed = True
        for value in flags.get("--set-metadata", []):
            key, _, raw = value.partition("=")
            try:
                issue["metadata"][key] = json.loads(raw)
            except ValueError:
                issue["metadata"][key] = raw
            changed = True
        if not changed:
            raise Fail("no updates specified")
        if issue["status"] == "closed":
            issue.setdefault("closed_at", now())
        issue["updated_at"] = now()
        db.dirty = True
        out([view(db, issue)])


def cmd_close(pos: list[str], flags: dict[str, list[str]], status: str = "closed") -> None:
    with open_db().locked() as db:
        shown = []
        for ident in pos:
            issue = db.get(ident)
            issue["status"] = status
            if status == "closed":
                issue.setdefault("closed_at", now())
            else:
                issue.pop("closed_at", None)
            issue["updated_at"] = now()
            shown.append(view(db, issue))
        db.dirty = True
        out(shown)


def _visible(issue: Obj, flags: dict[str, list[str]]) -> bool:
    kind = issue.get("issue_type")
    if kind in INFRA and not one(flags, "--include-infra"):
        return False
    return not (kind == "gate" and not one(flags, "--include-gates"))


def _limit(items: list[Obj], flags: dict[str, list[str]]) -> list[Obj]:
    count = int(one(flags, "--limit", "50") or 50)
    return items[:count] if count > 0 else items


def cmd_list(pos: list[str], flags: dict[str, list[str]]) -> None:
    with open_db().locked() as db:
        items = []
        for issue in db.issues.values():
            if issue["status"] == "closed" and not one(flags, "--all") and \
                    one(flags, "--status") != "closed":
                continue
            if not _visible(issue, flags):
                continue
            checks = (("--status", issue["status"]), ("--type", issue.get("issue_type")),
                      ("--assignee", issue.get("assignee")))
            if any(one(flags, f) is not None and one(flags, f) != v for f, v in checks):
                continue
            wanted = [v for value in flags.get("--label", []) for v in csv_values(value)]
            if any(w not in issue["labels"] for w in wanted):
                continue
            shown = view(db, issue)
            if one(flags, "--parent") and shown.get("parent") != one(flags, "--parent"):
                continue
            items.append(shown)
        items.sort(key=lambda i: (i["created_at"], i["id"]))
        out(_limit(items, flags))


def cmd_ready(pos: list[str], flags: dict[str, list[str]]) -> None:
    with open_db().locked() as db:
        items = []
        stamp = now()
        for issue in db.issues.values():
            if issue["status"] != "open" or not _visible(issue, flags):
                continue
            if issue.get("ephemeral") and not one(flags, "--include-ephemeral"):
                continue
            if issue.get("defer_until") and issue["defer_until"] > stamp:
                continue
            blocked = any(d["type"] == "blocks" and d["depends_on_id"] in db.issues
                          and db.issues[d["depends_on_id"]]["status"] != "closed"
                          for d in issue["dependencies"])
            if not blocked:
                items.append(view(db, issue))
        items.sort(key=lambda i: (i.get("priority", 2), i["created_at"], i["id"]))
        out(_limit(items, flags))


def cmd_delete(pos: list[str], flags: dict[str, list[str]]) -> None:
    if not one(flags, "--force"):
        raise Fail("refusing to delete without --force")
    with open_db().locked() as db:
        for ident in pos:
            db.get(ident)
            del db.issues[ident]
            for issue in db.issues.values():
                issue["dependencies"] = [d for d in issue["dependencies"]
                                         if d["depends_on_id"] != ident]
        db.dirty = True
        out({"deleted": pos})


def cmd_dep(pos: list[str], flags: dict[str, list[str]]) -> None:
    if not pos:
        raise Fail("usage: bd dep add|remove|list")
    with open_db().locked() as db:
        if pos[0] == "list" and len(pos) == 2:
            db.get(pos[1])
            up = one(flags, "--direction", "down") == "up"
            items = []
            for issue in db.issues.values():
                for dep in issue["dependencies"]:
                    if up and dep["depends_on_id"] == pos[1]:
                        items.append(view(db, issue) | {"dependency_type": dep["type"]})
                    elif not up and issue["id"] == pos[1] and dep["depends_on_id"] in db.issues:
                        items.append(view(db, db.issues[dep["depends_on_id"]])
                                     | {"dependency_type": dep["type"]})
            out(items)
            return
        if pos[0] not in ("add", "remove") or len(pos) != 3:
            raise Fail("usage: bd dep add|remove <issue> <depends-on>")
        issue = db.get(pos[1])
        db.get(pos[2])
        issue["dependencies"] = [d for d in issue["dependencies"] if d["depends_on_id"] != pos[2]]
        if pos[0] == "add":
            issue["dependencies"].append({"issue_id": pos[1], "depends_on_id": pos[2],
                                          "type": one(flags, "--type", "blocks")})
        db.dirty = True
        out({"status": "ok"})


def cmd_purge(pos: list[str], flags: dict[str, list[str]]) -> None:
    with open_db().locked() as db:
        doomed = [i for i, issue in db.issues.items()
                  if issue.get("ephemeral") and issue["status"] == "closed"]
        if one(flags, "--dry-run"):
            out({"purge_count": len(doomed)})
            return
        if not one(flags, "--force"):
            raise Fail(f"would purge {len(doomed)} issues; use --force")
        for ident in doomed:
            del db.issues[ident]
        db.dirty = True
        out({"purged_count": len(doomed)})


COMMANDS = {
    "init": cmd_init, "config": cmd_config, "create": cmd_create, "show": cmd_show,
    "update": cmd_update, "close": cmd_close,
    "reopen": lambda p, f: cmd_close(p, f, status="open"),
    "list": cmd_list, "ready": cmd_ready, "delete": cmd_delete, "dep": cmd_dep,
    "purge": cmd_purge,
}


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: bd <command>\n")
        return 1
    if argv[0] in ("version", "--version"):
        print("bd version 1.0.0 (fake)")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        sys.stderr.write(f'Error: unknown command "{argv[0]}" for "bd"\n')
        return 1
    try:
        pos, flags = parse(argv[1:])
        if argv[0] == "dep" and pos[:1] in (["add"], ["remove"]):
            pass
        command(pos, flags)
    except Fail as error:
        sys.stderr.write(f"Error: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    delay = os.environ.get("GC_FAKE_BD_DELAY")
    if delay:
        time.sleep(float(delay))
    sys.exit(main(sys.argv[1:]))
