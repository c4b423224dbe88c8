"""Kubernetes object names and label values from Gas City session names.

`sanitize_name` and `sanitize_label` reproduce upstream's functions (the Go
`SanitizeName`/`SanitizeLabel` and the k8s script), pinned by golden tables in
tests/unit/test_sanitize.py, so pods and labels match a mixed upstream fleet.

Where upstream disagrees with itself we choose, and the tests pin it:
* ``!!!`` (nothing survives): Go gives ``unknown``, the bash script gives
  ``""`` (an invalid manifest). We follow Go: ``unknown``.
* Non-ASCII letters in labels: Go keeps them (an invalid label value); we
  replace them with ``-``, as the bash script does.

Sanitizing is lossy (``Mayor`` and ``mayor``, ``a__b`` and ``a--b`` collide),
so `pod_name` and `label_value` keep a lossless result as is and otherwise
append a short hash of the raw name: distinct names never share a pod. A
lossless result that ends like a hash is hashed too (`looks_hashed`), so no
raw name can be another's hashed one. The hash is short (32 bits): the
session provider also checks, in every op, that the pod is the session's own.
"""

from __future__ import annotations

import hashlib

MAX = 63
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_LABEL_OK = _ALNUM | frozenset("._-")
HASH_LEN = 8


def sanitize_name(raw: str) -> str:
    """A DNS-1123 label: lowercase ``[a-z0-9-]``, trimmed, at most 63 characters."""
    if not raw:
        return ""
    mapped = "".join(c if c in _NAME_OK else "-" for c in raw.lower())
    name = mapped.lstrip("-")[:MAX].rstrip("-")
    return name or "unknown"


def _trim_label(value: str) -> str:
    start = 0
    while start < len(value) and value[start] not in _ALNUM:
        start += 1
    value = value[start:]
    end = len(value)
    while end > 0 and value[end - 1] not in _ALNUM:
        end -= 1
    return value[:end]


def sanitize_label(raw: str) -> str:
    """A label value: ``[A-Za-z0-9._-]``, alphanumeric at both ends, ≤ 63, else ``unknown``."""
    mapped = "".join(c if c in _LABEL_OK else "-" for c in raw)
    value = _trim_label(_trim_label(mapped)[:MAX])
    return value or "unknown"


def short_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:HASH_LEN]


_HEX = frozenset("0123456789abcdef")


def looks_hashed(value: str) -> bool:
    """Does ``value`` end the way a hashed result does (``-`` and `HASH_LEN` hex digits)?

    Such a value is never kept as is, even when sanitizing left it unchanged: otherwise the
    session ``mayor-e2001874`` would share a pod (or label) with ``Mayor``, whose hashed
    name it is. Kept values never end like this and hashed ones always do, so the mapping
    is injective."""
    return (len(value) > HASH_LEN + 1 and value[-HASH_LEN - 1] == "-"
            and _HEX.issuperset(value[-HASH_LEN:]))


def pod_name(raw: str, prefix: str = "") -> str:
    """A collision-safe object name: the sanitized name, plus a hash when lossy (or when the
    name looks hashed itself: `looks_hashed`)."""
    full = prefix + raw
    name = sanitize_name(full)
    if name == full and not looks_hashed(name):
        return name
    head = name[: MAX - HASH_LEN - 1].rstrip("-") or "gc"
    return f"{head}-{short_hash(full)}"


def label_value(raw: str) -> str:
    """A collision-safe label value: the sanitized label, plus a hash when lossy (sanitized
    or cut) or when it looks hashed itself (`looks_hashed`)."""
    value = sanitize_label(raw)
    if value == raw and not looks_hashed(value):
        return value
    head = _trim_label(value[: MAX - HASH_LEN - 1]) if value != "unknown" else "x"
    return f"{head or 'x'}-{short_hash(raw)}"
