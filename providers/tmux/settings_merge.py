"""JSON-merge of provider settings/hook files when staging overlays.

Both providers stage with these semantics: the local tmux provider file by file
(`providers.tmux.overlay`, which writes through `providers.tmux.contained` so
no symlink in the work dir is followed), the k8s provider while building its staging tar on
the host (`gc_session_k8s.pod.staging`). They are Gas City's, from gastownhall/gascity
``internal/overlay/merge.go`` (``mergeablePaths``, ``wrapBareHookPaths``,
``MergeSettingsJSON``, ``mergeHooksMap``, ``mergeHookArray`` in its default
"legacy" mode, ``hookEntryKey``, ``wrapBareHookEntries``, ``MarshalCanonicalJSON``)
and ``internal/overlay/overlay.go`` (``copyOrMergeFile``/``stageFileData``,
``createCanonicalSettingsFile``), which ``CopyDirForProviders`` and
``CopyFileOrDir`` use for every copied file:

* Only the paths in `MERGEABLE`, relative to the root of the tree being copied
  (an overlay, a ``per-provider/<p>/`` slot, a copy_files directory), merge.
* Top level: every key but ``hooks`` is last-writer-wins and replaced whole
  (no recursive merge of nested objects).
* ``hooks``: categories are unioned; a category that is an array on both sides
  is merged entry by entry, otherwise the overlay's value wins.
* Entry identity: ``matcher`` (a non-string matcher means none), else
  ``command``, else ``bash``, else the canonical JSON of a nested ``hooks``
  array. Same identity: the overlay entry replaces the (last) such base entry in
  place. New identity or none: appended.
* ``.claude/settings.json`` only: afterwards every bare entry (an object with
  neither ``matcher`` nor ``hooks``) becomes ``{"matcher": "", "hooks": [entry]}``.
* Output is canonical: sorted keys, 2-space indent, trailing newline, no HTML
  escaping. A new destination gets the overlay canonicalised (and wrapped).
* Either side not a JSON object (invalid JSON, trailing data, an array): not an
  error. The overlay's bytes replace the destination verbatim, as Go falls back
  to a plain copy.

One deviation, so a restart is idempotent: an overlay entry without an identity
match that equals (after wrapping) an entry already present is not appended
again. Go appends it, so a bare Claude entry (wrapped on the first staging, so
no longer matched by its command) gains one more copy on every start.
JSON is parsed by orjson: an integer beyond 64 bits makes a document "not JSON"
(so a plain copy) where Go keeps the literal.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import orjson

#: Paths merged instead of overwritten (Go's ``mergeablePaths``).
MERGEABLE = frozenset({
    ".agents/hooks.json", ".claude/settings.json", ".gemini/settings.json",
    ".codex/hooks.json", ".cursor/hooks.json", ".github/hooks/gascity.json",
})
#: Claude rejects bare top-level hook entries; Codex/Cursor need them bare.
WRAP_BARE = frozenset({".claude/settings.json"})

Entry = object
Normalize = Callable[[Entry], Entry]


class NotMergeable(ValueError):
    """A side is not a JSON object; the caller falls back to a plain copy."""


def is_mergeable(rel: str) -> bool:
    return os.path.normpath(rel) in MERGEABLE


def lands_on_mergeable(name: str) -> bool:
    """Whether a later layer could merge into ``name`` (a path ending in a mergeable one)."""
    return any(name == path or name.endswith("/" + path) for path in MERGEABLE)


def canonical(doc: object) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def parse_object(label: str, data: bytes) -> dict[str, object]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise NotMergeable(f"{label} is not valid JSON: {error}") from None
    if not isinstance(doc, dict):
        raise NotMergeable(f"{label} is not a JSON object")
    return doc


def identity(entry: Entry) -> str | None:
    """Go's ``hookEntryKey``: the first of matcher, command, bash, nested hooks."""
    if not isinstance(entry, dict):
        return None
    for field, prefix in (("matcher", ""), ("command", "cmd:"), ("bash", "bash:")):
        if field in entry:
            value = entry[field]
            return prefix + value if isinstance(value, str) else None
    inner = entry.get("hooks")
    if isinstance(inner, list):
        return "inner:" + orjson.dumps(inner, option=orjson.OPT_SORT_KEYS).decode()
    return None


def wrap_bare(entry: Entry) -> Entry:
    if isinstance(entry, dict) and "matcher" not in entry and "hooks" not in entry:
        return {"matcher": "", "hooks": [entry]}
    return entry


def unchanged(entry: Entry) -> Entry:
    return entry


def merge_entries(base: list[Entry], over: list[Entry], normalize: Normalize) -> list[Entry]:
    result = list(base)
    index = {key: i for i, entry in enumerate(result) if (key := identity(entry)) is not None}
    for entry in over:
        key = identity(entry)
        if key is not None and key in index:
            result[index[key]] = entry
            continue
        wanted = normalize(entry)
        at = next((i for i, old in enumerate(result) if normalize(old) == wanted), None)
        if at is None:  # the deviation: an equal entry is not appended twice
            at = len(result)
            result.append(entry)
        if key is not None:
            index[key] = at
    return result


def merge_hooks(base: object, over: object, normalize: Normalize) -> dict[str, object]:
    # A non-object "hooks" counts as empty on either side, as in Go.
    result = dict(base) if isinstance(base, dict) else {}
    for category, value in (over.items() if isinstance(over, dict) else ()):
        old = result.get(category)
        if isinstance(old, list) and isinstance(value, list):
            result[category] = merge_entries(old, value, normalize)
        else:
            result[category] = value
    return result


def merge(base: bytes, over: bytes, *, wrap: bool) -> bytes:
    """``over`` merged into ``base`` (Go's ``MergeSettingsJSON``); `NotMergeable` if either is no object."""
    base_doc = parse_object("destination", base)
    over_doc = parse_object("overlay", over)
    normalize = wrap_bare if wrap else unchanged
    result = dict(base_doc)
    for key, value in over_doc.items():
        result[key] = merge_hooks(base_doc.get("hooks"), value, normalize) if key == "hooks" else value
    hooks = result.get("hooks")
    if wrap and isinstance(hooks, dict):
        result["hooks"] = {category: [wrap_bare(e) for e in v] if isinstance(v, list) else v
                           for category, v in hooks.items()}
    return canonical(result)


def fresh(incoming: bytes, wrap: bool) -> bytes:
    """A new destination: the overlay canonicalised (and wrapped), else verbatim."""
    if wrap:
        try:
            return merge(b"{}", incoming, wrap=True)
        except NotMergeable:
            pass
    try:
        return canonical(orjson.loads(incoming))
    except orjson.JSONDecodeError:
        return incoming


def staged(rel: str, incoming: bytes, existing: bytes | None) -> bytes:
    """What staging leaves at mergeable ``rel``, given the destination's bytes (None: absent)."""
    wrap = os.path.normpath(rel) in WRAP_BARE
    if existing is None:
        return fresh(incoming, wrap)
    try:
        return merge(existing, incoming, wrap=wrap)
    except NotMergeable:
        return incoming
