"""Gas City's bead wire format ↔ bd's issue JSON and command-line flags.

gc sends `createRequest`/`updateRequest` objects and reads `beadWire`
objects (``type`` not ``issue_type``, ``parent_id`` not ``parent``, metadata
values as strings). bd stores ``from`` as ``metadata.from`` (as gc's own
BdStore does), ``ref`` as ``external_ref``, parents as native parent-child
links and ``needs`` as ``blocks`` dependencies. Legacy ``parent:``/``needs:``/
``meta:`` labels written by the old bash runner are still read.

Field → bd flag (bd 1.1.0 sources: gascity/beads@ab5e802 ``cmd/bd/create.go``,
gascity/beads@3652538 ``update.go``, gastownhall/beads@6ea9d36 ``flags.go``; the
fake bd's ``FLAGS`` table holds every flag those commands register):

- title: ``--title=`` (create and update; bd trims an update's title and
  refuses an empty one, so an empty title is not sent);
- type: ``--type=``; priority: ``--priority=`` (a String flag taking 0-4 or
  P0-P4 only, checked here); status (update): ``--status=``;
- description: ``--description=`` ("" clears on update); assignee:
  ``--assignee=`` ("" clears on update);
- labels: create ``--labels=`` (a StringSlice: CSV-quoted), update
  ``--add-label=``; remove_labels: ``--remove-label=``;
- parent_id: create ``--parent=`` with ``--no-inherit-labels``, update
  ``--parent=`` ("" removes the parent);
- needs: ``--deps=`` (a bare id is a ``blocks`` dependency of this bead);
- ref: ``--external-ref=``; defer_until: ``--defer=`` (bd's timeparsing takes
  RFC3339, YYYY-MM-DD, +6h, …);
- metadata: ``--metadata=<JSON object>`` (merges on update);
- from: no bd flag: stored as ``metadata.from``, as gc's BdStore does;
- ephemeral / no_history: ``--ephemeral`` / ``--no-history`` (Bools that bd
  create refuses together).

bd reads the description from stdin when the value is exactly ``-``
(``getDescriptionFlag``), so such a description is sent as ``--description=-``
with ``-`` on stdin (`flag_stdin`), which stores ``-`` on every bd version.
"""

from __future__ import annotations

from typing import Any

import orjson

from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.dispatch import Call

Obj = dict[str, Any]

#: gc drops these types from `ready` (and so do we, so `ready` alone is right).
NOT_READY_TYPES = frozenset(
    ("merge-request", "gate", "molecule", "message", "session", "agent", "role", "rig")
)
_LEGACY_PREFIXES = ("parent:", "needs:", "meta:")


def read_stdin(call: Call) -> bytes:
    """The request body; a closed or unreadable stdin is a one-line `UsageError`."""
    try:
        return call.stdin_bytes()
    except (AttributeError, OSError, ValueError):  # no sys.stdin (closed fd 0), EBADF, closed
        raise UsageError("stdin is closed; the request is read there") from None


def parse_object(raw: bytes, what: str) -> Obj:
    """stdin as a JSON object, or a one-line `UsageError` (a NUL byte anywhere included:
    bd takes every value as an argument, which cannot hold one)."""
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as error:
        raise UsageError(f"invalid JSON on stdin for {what}: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what} expects a JSON object on stdin, got {type(data).__name__}")
    where = nul_in(data)
    if where is not None:
        raise UsageError(f"{what}: {where} contains a NUL byte, which bd cannot store")
    return data


def nul_in(data: Any, path: str = "the request") -> str | None:
    """Where a NUL byte is in a parsed JSON value (a key or a string), or None."""
    if isinstance(data, str):
        return path if "\0" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            if "\0" in key:
                return f"a key of {path}"
            found = nul_in(value, repr(key))
            if found is not None:
                return found
    elif isinstance(data, list):
        for value in data:
            found = nul_in(value, path)
            if found is not None:
                return found
    return None


def _bool(data: Obj, key: str, what: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise UsageError(f"{what}: {key!r} must be true or false")
    return value


def _str(data: Obj, key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{what}: {key!r} must be a string")
    return value


def _strs(data: Obj, key: str, what: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{what}: {key!r} must be a list of strings")
    return list(value)


def _priority(data: Obj, what: str) -> int | None:
    """bd accepts priorities 0-4 only (``validation.ValidatePriority``)."""
    value = data.get("priority")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what}: 'priority' must be an integer")
    if not 0 <= value <= 4:
        raise UsageError(f"{what}: 'priority' must be between 0 and 4 (bd's P0-P4), got {value}")
    return value


def meta_text(value: Any) -> str:
    """A metadata value as gc sees it: strings as is, anything else as its JSON text."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _metadata(data: Obj, what: str) -> dict[str, str]:
    value = data.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{what}: 'metadata' must be an object")
    return {str(k): meta_text(v) for k, v in value.items()}


def csv_field(value: str) -> str:
    """One field for a pflag StringSlice flag (``--labels``), quoted as Go's csv reads it."""
    if value == "" or any(c in value for c in ',"\r\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_join(values: list[str]) -> str:
    return ",".join(csv_field(v) for v in values)


def create_flags(data: Obj) -> list[str]:
    """bd flags for a createRequest (``bd create --json <flags>``)."""
    what = "create"
    title = _str(data, "title", what)
    if not title:
        raise UsageError("create: 'title' is required")
    flags = [f"--title={title}", f"--type={_str(data, 'type', what) or 'task'}"]
    priority = _priority(data, what)
    if priority is not None:
        flags.append(f"--priority={priority}")
    for key, flag in (("description", "--description"), ("assignee", "--assignee"),
                      ("ref", "--external-ref"), ("defer_until", "--defer")):
        value = _str(data, key, what)
        if value:
            flags.append(f"{flag}={value}")
    labels = _strs(data, "labels", what)
    if labels:
        flags.append(f"--labels={csv_join(labels)}")
    parent = _str(data, "parent_id", what)
    if parent:
        flags += [f"--parent={parent}", "--no-inherit-labels"]
    needs = _strs(data, "needs", what)
    if needs:
        flags.append(f"--deps={csv_join(needs)}")
    metadata = _metadata(data, what)
    sender = _str(data, "from", what)
    if sender:
        metadata["from"] = sender
    if metadata:
        flags.append("--metadata=" + orjson.dumps(metadata).decode())
    ephemeral, no_history = _bool(data, "ephemeral", what), _bool(data, "no_history", what)
    if ephemeral and no_history:
        # bd create: "--ephemeral and --no-history are mutually exclusive".
        raise UsageError("create: 'ephemeral' and 'no_history' are mutually exclusive")
    if ephemeral:
        flags.append("--ephemeral")
    if no_history:
        flags.append("--no-history")
    return flags


def flag_stdin(flags: list[str]) -> bytes | None:
    """What bd must read on stdin for these flags: ``-`` for ``--description=-``."""
    return b"-" if "--description=-" in flags else None


def update_flags(data: Obj) -> list[str]:
    """bd flags for an updateRequest (present-but-empty fields clear the value)."""
    what = "update"
    flags: list[str] = []
    for key, flag in (("title", "--title"), ("status", "--status"), ("type", "--type"),
                      ("description", "--description"), ("assignee", "--assignee"),
                      ("parent_id", "--parent")):
        value = _str(data, key, what)
        if value is not None:
            if key in ("title", "status", "type") and not value:
                continue
            flags.append(f"{flag}={value}")
    priority = _priority(data, what)
    if priority is not None:
        flags.append(f"--priority={priority}")
    flags += [f"--add-label={csv_field(v)}" for v in _strs(data, "labels", what)]
    flags += [f"--remove-label={csv_field(v)}" for v in _strs(data, "remove_labels", what)]
    metadata = _metadata(data, what)
    if metadata:
        flags.append("--metadata=" + orjson.dumps(metadata).decode())
    return flags


def gc_status(status: Any) -> str:
    """closed → closed, in_progress → in_progress, anything else → open."""
    return status if status in ("closed", "in_progress") else "open"


def _deps(issue: Obj) -> list[tuple[str, str]]:
    """``(depends_on_id, type)`` pairs from bd's dependency list (either shape)."""
    pairs: list[tuple[str, str]] = []
    own = issue.get("id")
    for dep in issue.get("dependencies") or []:
        if not isinstance(dep, dict):
            continue
        target = dep.get("depends_on_id") or dep.get("id")
        if dep.get("issue_id") not in (None, own) or not target:
            continue
        pairs.append((str(target), str(dep.get("type") or dep.get("dependency_type") or "blocks")))
    return pairs


def to_bead(issue: Obj) -> Obj:
    """One bd issue object → gc's bead wire object."""
    labels = [str(v) for v in issue.get("labels") or []]
    deps = _deps(issue)
    parent = issue.get("parent") or next((t for t, k in deps if k == "parent-child"), "")
    needs = [t for t, k in deps if k == "blocks"]
    metadata: dict[str, str] = {}
    for item in labels:
        if item.startswith("parent:") and not parent:
            parent = item[7:]
        elif item.startswith("needs:") and item[6:] not in needs:
            needs.append(item[6:])
        elif item.startswith("meta:") and "=" in item:
            key, _, value = item[5:].partition("=")
            metadata[key] = value
    raw_meta = issue.get("metadata")
    if isinstance(raw_meta, str) and raw_meta:
        try:
            raw_meta = orjson.loads(raw_meta)
        except orjson.JSONDecodeError:
            raw_meta = {}
    if isinstance(raw_meta, dict):
        metadata.update({str(k): meta_text(v) for k, v in raw_meta.items()})
    sender = issue.get("from") or metadata.pop("from", "")
    bead: Obj = {
        "id": issue.get("id", ""),
        "title": issue.get("title", ""),
        "status": gc_status(issue.get("status")),
        "type": issue.get("issue_type") or issue.get("type") or "task",
        "description": issue.get("description") or "",
        "labels": [v for v in labels if not v.startswith(_LEGACY_PREFIXES)],
        "metadata": metadata,
    }
    if isinstance(issue.get("priority"), int):
        bead["priority"] = issue["priority"]
    optional: list[tuple[str, Any]] = [
        ("created_at", issue.get("created_at")), ("updated_at", issue.get("updated_at")),
        ("assignee", issue.get("assignee")), ("from", sender), ("parent_id", parent),
        ("ref", issue.get("external_ref") or issue.get("ref")),
        ("defer_until", issue.get("defer_until")),
    ]
    for key, value in optional:
        if value:
            bead[key] = value
    if needs:
        bead["needs"] = needs
    for key in ("ephemeral", "no_history"):
        if issue.get(key):
            bead[key] = True
    return bead


def merge_request(bead: Obj, request: Obj) -> Obj:
    """Fill fields bd's create reply may lack (labels, parent, …) from the request."""
    for key in ("assignee", "from", "parent_id", "ref", "description", "defer_until"):
        if request.get(key) and not bead.get(key):
            bead[key] = request[key]
    if request.get("priority") is not None and "priority" not in bead:
        bead["priority"] = request["priority"]
    for key in ("labels", "needs"):
        for value in request.get(key) or []:
            bead.setdefault(key, [])
            if value not in bead[key]:
                bead[key].append(value)
    for key, value in (request.get("metadata") or {}).items():
        bead["metadata"].setdefault(str(key), meta_text(value))
    for key in ("ephemeral", "no_history"):
        if request.get(key) is True:
            bead[key] = True
    return bead


def issues(raw: bytes, what: str) -> list[Obj]:
    """bd's JSON output as a list of issue objects (empty output → [])."""
    text = raw.strip()
    if not text:
        return []
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        from protocol.errors import ProviderError

        raise ProviderError(f"{what}: bd printed invalid JSON ({error})") from None
    if data is None:
        return []
    if isinstance(data, dict):
        return [data]
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
