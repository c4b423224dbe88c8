"""Just enough protobuf to read a SelfSubjectAccessReview (kubectl auth can-i sends
the authorization group's requests as `application/vnd.kubernetes.protobuf`)."""

from __future__ import annotations

from typing import Any

_MAGIC = b"k8s\x00"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def fields(buf: bytes) -> dict[int, list[bytes | int]]:
    """Top-level fields of one message: number -> values (bytes or ints)."""
    out: dict[int, list[bytes | int]] = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            out.setdefault(num, []).append(value)
        elif wire == 2:
            n, i = _varint(buf, i)
            out.setdefault(num, []).append(buf[i:i + n])
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _sub(msg: dict[int, list[bytes | int]], num: int) -> dict[int, list[bytes | int]]:
    v = msg.get(num, [b""])[0]
    return fields(v) if isinstance(v, bytes) else {}


def _str(msg: dict[int, list[bytes | int]], num: int) -> str:
    v = msg.get(num, [b""])[0]
    return v.decode() if isinstance(v, bytes) else ""


def access_review(body: bytes) -> dict[str, Any]:
    """Decode a protobuf SelfSubjectAccessReview into its JSON shape (spec only)."""
    if body.startswith(_MAGIC):
        body = body[len(_MAGIC):]
    unknown = fields(body)  # runtime.Unknown{typeMeta=1, raw=2}
    raw = unknown.get(2, [b""])[0]
    review = fields(raw) if isinstance(raw, bytes) else {}
    ra = _sub(_sub(review, 2), 1)  # spec=2 -> resourceAttributes=1
    names = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
    attrs = {k: _str(ra, i + 1) for i, k in enumerate(names) if ra.get(i + 1)}
    return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {}, "spec": {"resourceAttributes": attrs}}
