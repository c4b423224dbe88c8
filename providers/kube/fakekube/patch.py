"""PATCH bodies: JSON merge patch, a strategic-merge approximation, JSON patch."""

from __future__ import annotations

import copy
from typing import Any

from providers.kube.fakekube.errors import ApiError

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


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(target: Any, ops: Any) -> Any:
    doc = copy.deepcopy(target)
    if not isinstance(ops, list):
        raise ApiError(400, "json patch must be a list of operations")
    for op in ops:
        kind, parts = op.get("op"), _pointer(op.get("path", ""))
        if kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise ApiError(422, f"testing value {op.get('path')} failed")
            continue
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_get(doc, src))
            if kind == "move":
                doc = _remove(doc, src)
            doc = _add(doc, parts, value)
        elif kind == "remove":
            doc = _remove(doc, parts)
        elif kind == "add":
            doc = _add(doc, parts, op.get("value"))
        elif kind == "replace":
            doc = _remove(doc, parts)
            doc = _add(doc, parts, op.get("value"))
        else:
            raise ApiError(400, f"unknown json patch op {kind!r}")
    return doc


def _get(doc: Any, parts: list[str]) -> Any:
    for p in parts:
        try:
            doc = doc[int(p)] if isinstance(doc, list) else doc[p]
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, f"path /{'/'.join(parts)} not found") from e
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _get(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, f"cannot add at /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _get(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise ApiError(422, f"path /{'/'.join(parts)} not found") from e
    return doc
