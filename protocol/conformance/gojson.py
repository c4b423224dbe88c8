"""Encode values the way Go's ``encoding/json.Marshal`` does, byte for byte.

Gas City writes the start config with ``json.Marshal``: compact, HTML-unsafe
characters ``<``, ``>`` and ``&`` escaped as ``\\u003c``/``\\u003e``/``\\u0026``,
U+2028 and U+2029 escaped, map keys sorted, struct fields in declaration
order, invalid UTF-8 replaced by U+FFFD. A provider should see exactly those
bytes from the kit too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_HTML_AND_LINE_SEPARATORS = {"<", ">", "&", "\u2028", "\u2029"}

GoValue = str | int | bool | None | Sequence["GoValue"] | Mapping[str, "GoValue"]


def encode_string(text: str) -> str:
    """Return ``text`` as a Go-escaped JSON string literal (with quotes)."""
    parts = ['"']
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:  # not valid UTF-8: Go writes U+FFFD
            char = "\ufffd"
        short = _SHORT_ESCAPES.get(char)
        if short is not None:
            parts.append(short)
        elif ord(char) < 0x20 or char in _HTML_AND_LINE_SEPARATORS:
            parts.append(f"\\u{ord(char):04x}")
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def encode(value: GoValue) -> str:
    """Encode a JSON value like ``json.Marshal`` (maps with sorted keys)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return "{" + ",".join(f"{encode_string(k)}:{encode(v)}" for k, v in items) + "}"
    return "[" + ",".join(encode(item) for item in value) + "]"


class CopyFile(NamedTuple):
    """One ``copy_files`` entry; ``rel_dst`` is omitted when empty."""

    src: str
    rel_dst: str = ""


class StartConfig(NamedTuple):
    """The start-config wire struct; every field is ``omitempty``, in wire order."""

    work_dir: str = ""
    command: str = ""
    lifecycle: str = ""
    env: Mapping[str, str] = {}
    process_names: Sequence[str] = ()
    nudge: str = ""
    ready_prompt_prefix: str = ""
    ready_delay_ms: int = 0
    pre_start: Sequence[str] = ()
    session_setup: Sequence[str] = ()
    session_setup_script: str = ""
    session_live: Sequence[str] = ()
    pack_overlay_dirs: Sequence[str] = ()
    overlay_dir: str = ""
    copy_files: Sequence[CopyFile] = ()


def encode_start_config(config: StartConfig) -> bytes:
    """The exact stdin bytes of ``start``/``provision`` (no trailing newline)."""
    fields: list[str] = []
    values: dict[str, GoValue] = {key: value for key, value in config._asdict().items() if key != "copy_files"}
    for key, value in values.items():
        if value:
            fields.append(f"{encode_string(key)}:{encode(value)}")
    if config.copy_files:
        entries = [
            {"src": entry.src, **({"rel_dst": entry.rel_dst} if entry.rel_dst else {})} for entry in config.copy_files
        ]
        fields.append(f'"copy_files":[{",".join(_encode_ordered(e) for e in entries)}]')
    return ("{" + ",".join(fields) + "}").encode("utf-8")


def _encode_ordered(entry: Mapping[str, str]) -> str:
    """A struct (declaration order), not a map (sorted order)."""
    return "{" + ",".join(f"{encode_string(k)}:{encode_string(v)}" for k, v in entry.items()) + "}"
