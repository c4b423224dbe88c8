"""JSON through the C accelerator `_json` alone.

`orjson` (3.13 here) imports `json`, `dataclasses`, `inspect`, `ast`, `uuid` and `enum`
on load (~20 ms measured), and `json` imports `re`: more than the whole exec costs
through the helper. `_json`'s scanner and encoder are the same C code `json` uses, driven
with the settings `json.loads`/`json.dumps` pass by default.
"""

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed context


def _unserializable(obj: object) -> object:
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


_encode = _json.make_encoder(None, _unserializable, _json.encode_basestring_ascii, None, ":",
                             ",", False, False, True)


def loads(data: bytes | str) -> "Any":
    """Parse one JSON document (`ValueError` when it is not one)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    start = len(text) - len(text.lstrip())
    try:
        value, end = _scan(text, start)
    except (StopIteration, SystemError, ValueError):
        # The C scanner reports a syntax error through json.decoder, which we never import.
        raise ValueError("not a JSON document") from None
    if text[end:].strip():
        raise ValueError("extra data after the JSON document")
    return value


def dumps(obj: "Any") -> bytes:
    return "".join(_encode(obj, 0)).encode("ascii")
