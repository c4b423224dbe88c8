"""Label and field selectors, as the API server parses them.

Label: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, comma-joined.
Field: `path=value`, `path==value`, `path!=value` over dotted object paths
(the API server only allows a few per kind; `metadata.name`,
`metadata.namespace`, `status.phase` and `spec.nodeName` are accepted here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, str]], bool]


class SelectorError(ValueError):
    """An unparseable selector (the API server answers 400 BadRequest)."""


_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")


def _split_terms(text: str) -> list[str]:
    # Commas separate terms except inside `in (a,b)` parentheses.
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


def _label_term(term: str) -> Predicate:
    for op in ("!=", "==", "="):
        if op in term:
            key, _, value = term.partition(op)
            key, value = key.strip(), value.strip()
            if not key:
                raise SelectorError(f"invalid label selector term {term!r}")
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    m = _SET_RE.match(term)
    if not m:
        raise SelectorError(f"unable to parse requirement: {term!r}")
    negated, key, set_op, values_text = m.groups()
    if set_op:
        if negated:
            raise SelectorError(f"unable to parse requirement: {term!r}")
        values = {v.strip() for v in values_text.split(",") if v.strip()}
        if set_op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if negated:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def parse_label_selector(text: str | None) -> Predicate:
    if not text:
        return lambda _labels: True
    preds = [_label_term(t) for t in _split_terms(text)]
    return lambda labels: all(p(labels) for p in preds)


_FIELD_PATHS = {"metadata.name", "metadata.namespace", "status.phase", "spec.nodeName"}


def field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    return "" if cur is None else str(cur)


def parse_field_selector(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    if not text:
        return lambda _obj: True
    terms: list[tuple[str, bool, str]] = []
    for term in _split_terms(text):
        for op in ("!=", "==", "="):
            if op in term:
                path, _, value = term.partition(op)
                path = path.strip()
                if path not in _FIELD_PATHS:
                    raise SelectorError(
                        f'field label not supported: {path}'
                    )
                terms.append((path, op == "!=", value.strip()))
                break
        else:
            raise SelectorError(f"invalid field selector: {term!r}")

    def match(obj: Mapping[str, Any]) -> bool:
        return all((field_value(obj, path) == value) != negated for path, negated, value in terms)

    return match
