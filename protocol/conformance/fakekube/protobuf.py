"""Just enough protobuf for what kubectl sends that way: SelfSubjectAccessReview
(`auth can-i`) and `create secret|configmap|namespace` bodies."""

from __future__ import annotations

import base64
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


def _map(msg: dict[int, list[bytes | int]], num: int, *, binary: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in msg.get(num, []):
        if isinstance(entry, bytes):
            kv = fields(entry)
            key = _str(kv, 1)
            raw = kv.get(2, [b""])[0]
            value = raw if isinstance(raw, bytes) else b""
            out[key] = base64.b64encode(value).decode() if binary else value.decode()
    return out


def _object_meta(buf: dict[int, list[bytes | int]]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for num, key in ((1, "name"), (2, "generateName"), (3, "namespace")):
        if buf.get(num):
            meta[key] = _str(buf, num)
    for num, key in ((11, "labels"), (12, "annotations")):
        if buf.get(num):
            meta[key] = _map(buf, num)
    return meta


def decode_object(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded Secret, ConfigMap or Namespace as JSON (the fields kubectl's
    `create secret|configmap|namespace` send); other kinds raise ValueError."""
    if body.startswith(_MAGIC):
        body = body[len(_MAGIC):]
    unknown = fields(body)
    type_meta = _sub(unknown, 1)
    kind = _str(type_meta, 2)
    raw = unknown.get(2, [b""])[0]
    obj = fields(raw) if isinstance(raw, bytes) else {}
    out: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": _object_meta(_sub(obj, 1))}
    if kind == "Secret":
        out["data"] = _map(obj, 2, binary=True)
        if obj.get(4):
            out["stringData"] = _map(obj, 4)
        if obj.get(3):
            out["type"] = _str(obj, 3)
    elif kind == "ConfigMap":
        out["data"] = _map(obj, 2)
        if obj.get(3):
            out["binaryData"] = _map(obj, 3, binary=True)
    elif kind != "Namespace":
        raise ValueError(f"protobuf {kind or 'object'} is not supported by fakekube; send JSON")
    return out
