"""PATCH bodies: JSON merge patch, a strategic-merge approximation, JSON patch (RFC 6902)
with the real server's rules and error shapes."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from protocol.conformance.fakekube.errors import ApiError

# Lists merged by `name` in strategic merge patch (the pod fields that matter here).
_MERGE_BY_NAME = {"containers", "initContainers", "env", "volumes", "volumeMounts", "ports"}


def merge_patch(target: Any, patch: Any, *, strategic: bool = False, key: str = "") -> Any:
    if not isinstance(patch, dict):
        if strategic and key in _MERGE_BY_NAME and isinstance(patch, list) and isinstance(target, list):
            return _merge_named(target, patch)
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if strategic and k.startswith("$"):
            continue  # directives ($patch, $setElementOrder, ...) are not modelled
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v, strategic=strategic, key=k)
    return result


def _merge_named(target: list[Any], patch: list[Any]) -> list[Any]:
    out = copy.deepcopy(target)
    index = {item.get("name"): i for i, item in enumerate(out) if isinstance(item, dict)}
    for item in patch:
        if isinstance(item, dict) and item.get("$patch") == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get("name") == item.get("name"))]
            index = {o.get("name"): i for i, o in enumerate(out) if isinstance(o, dict)}
        elif isinstance(item, dict) and item.get("name") in index:
            i = index[item["name"]]
            out[i] = merge_patch(out[i], item, strategic=True)
        else:
            out.append(copy.deepcopy(item))
    return out


#: The real server's answer to any JSON patch that does not apply (HTTP 422, `details: {}`):
#: it keeps the JSON-patch library's own reason to itself.
PATCH_REJECTED = "the server rejected our request due to an error in our request"

#: JSON's value kinds as Go's encoding/json names them in its unmarshal errors.
_GO_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "number"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"),
)


def _go_kind(value: Any) -> str:
    return next(name for t, name in _GO_KINDS if isinstance(value, t))


PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def check_patch_syntax(raw: bytes) -> None:
    """The real server's first look at a JSON PATCH body, before it reads the object: not
    JSON at all is a 400 even for an object that does not exist."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ApiError(400, "invalid JSON patch") from e


def _unmarshal_error(value: Any, into: str) -> ApiError:
    return ApiError(400, f"error decoding patch: json: cannot unmarshal {_go_kind(value)} into Go {into}")


def decode_patch(raw: bytes, ctype: str) -> Any:
    """A JSON PATCH body decoded as the real server does it once it has the object, with its
    400s worded the same (Go's unmarshal errors, the merge-patch library's own)."""
    body = orjson.loads(raw)
    if ctype != "application/json-patch+json":
        if body is None:
            raise ApiError(400, "Invalid JSON Patch")
        if not isinstance(body, dict):
            raise _unmarshal_error(body, "value of type map[string]interface {}")
        return body
    if body is None:
        return []
    if not isinstance(body, list):
        raise _unmarshal_error(body, "value of type []handlers.jsonPatchOp")
    for op in body:
        if op is None:
            continue
        if not isinstance(op, dict):
            raise _unmarshal_error(op, "value of type handlers.jsonPatchOp")
        for field in ("op", "path", "from"):
            if op.get(field) is not None and not isinstance(op[field], str):
                raise _unmarshal_error(op[field], f"struct field jsonPatchOp.{field} of type string")
    return body


class _Failed(Exception):
    """One operation does not apply: the whole patch is refused with PATCH_REJECTED."""


def json_patch(target: Any, ops: list[Any]) -> Any:
    """RFC 6902 as the real server applies it (evanphx/json-patch v4 with negative indices):
    a missing key reads as null (so `replace` of one adds it and `test` of it against null
    passes), an index is Go's strconv.Atoi (`01`, `+1`, `-1` counted from the end), `add`
    accepts at most len(list), and a path without a leading slash names a top-level key."""
    doc = copy.deepcopy(target)
    try:
        for op in ops:
            doc = _apply(doc, op or {})
    except _Failed as e:
        raise ApiError(422, PATCH_REJECTED, details={}) from e
    return doc


def _apply(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        raise _Failed(f"Unexpected kind: {kind}")
    path = _str_field(op, "path")
    value = op.get("value")
    if kind == "replace" and path == "":
        if not isinstance(value, dict):
            raise _Failed("replace operation value must be object or array")
        return copy.deepcopy(value)
    if kind == "test" and path == "":
        if not _equal(doc, value):
            raise _Failed("testing value failed")
        return doc
    if kind in ("move", "copy"):
        src, src_key = _find(doc, _str_field(op, "from"))
        moved = _get(src, src_key)
        if kind == "move":
            _remove(src, src_key)
        else:
            moved = copy.deepcopy(moved)
        dst, key = _find(doc, path)
        _add(dst, key, moved)
        return doc
    con, key = _find(doc, path)
    if kind == "add":
        _add(con, key, copy.deepcopy(value))
    elif kind == "remove":
        _remove(con, key)
    elif kind == "replace":
        _get(con, key)
        _set(con, key, copy.deepcopy(value))
    else:
        current = _get(con, key)
        if current is None and value is None:
            return doc
        if current is None or value is None or not _equal(current, value):
            raise _Failed("testing value failed")
    return doc


def _str_field(op: dict[str, Any], name: str) -> str:
    value = op.get(name)
    if not isinstance(value, str):
        raise _Failed(f"operation missing {name} field")
    return value


def _decode(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _find(doc: Any, path: str) -> tuple[Any, str]:
    """The container a path ends in and the last key (the library's findObject)."""
    split = path.split("/")
    if len(split) < 2:
        raise _Failed(f"doc is missing path: {path}")
    for part in split[1:-1]:
        try:
            nxt = _get(doc, _decode(part))
        except _Failed as e:
            raise _Failed(f"doc is missing path: {path}") from e
        if not isinstance(nxt, dict | list):
            raise _Failed(f"doc is missing path: {path}")
        doc = nxt
    return doc, _decode(split[-1])


def _index(key: str) -> int:
    """Go's strconv.Atoi: optional sign, ASCII digits, nothing else."""
    digits = key[1:] if key[:1] in ("+", "-") else key
    if not digits or not digits.isascii() or not digits.isdigit():
        raise _Failed(f"value was not a proper array index: {key!r}")
    return int(key)


def _get(con: Any, key: str) -> Any:
    if isinstance(con, dict):
        return con.get(key)  # a missing key is null, not an error
    i = _index(key)
    if i < 0:
        if i < -len(con):
            raise _Failed(f"Unable to access invalid index: {i}")
        i += len(con)
    if i >= len(con):
        raise _Failed(f"Unable to access invalid index: {i}")
    return con[i]


def _set(con: Any, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
        return
    i = _index(key)
    con[i + len(con) if i < 0 else i] = value  # _get checked the range


def _add(con: Any, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    i = _index(key)
    size = len(con) + 1
    if i >= size or i < -size:
        raise _Failed(f"Unable to access invalid index: {i}")
    con.insert(i + size if i < 0 else i, value)


def _remove(con: Any, key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise _Failed(f"Unable to remove nonexistent key: {key}")
        del con[key]
        return
    i = _index(key)
    if i >= len(con) or i < -len(con):
        raise _Failed(f"Unable to access invalid index: {i}")
    con.pop(i)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality without Python's 1 == 1.0 == True."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
