"""`gc-session-k8s manifest <name> [--yaml]`: the pod a start would create, without a cluster.

The output is deterministic (two dry runs diff clean): what each real start makes anew (its
start id, the starting process) is left out, and keys keep the order start writes them in.
"""

from __future__ import annotations

import sys

from protocol import names
from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

#: Per-start identity a real start writes (labels and annotations): not part of the pod's shape.
PER_START = ("gc-start-id", "gc-starter")
USAGE = "usage: gc-session-k8s manifest <name> [--yaml]  < start config JSON"


def manifest(argv: Sequence[str]) -> str:
    import orjson

    from gc_session_k8s.settings import Settings
    from gc_session_k8s.start import Plan
    from protocol.config import parse_start_config

    args = list(argv)
    if args in (["-h"], ["--help"]):
        return USAGE + ("\n  print the pod a start would create (JSON, or YAML with --yaml); "
                        "touches no cluster; the same input prints the same bytes")
    yaml = "--yaml" in args
    args = [a for a in args if a != "--yaml"]
    if len(args) != 1:
        raise UsageError(USAGE)
    name = names.session_name(args[0])
    raw = b"" if sys.stdin.isatty() else sys.stdin.buffer.read()
    plan = Plan(name, parse_start_config(raw), Settings.from_env())
    metadata = plan.manifest["metadata"]
    for field in ("labels", "annotations"):
        for key in PER_START:
            (metadata.get(field) or {}).pop(key, None)
    if yaml:
        return to_yaml(plan.manifest)
    return orjson.dumps(plan.manifest, option=orjson.OPT_INDENT_2).decode()


def to_yaml(value: object, indent: int = 0) -> str:
    """Block-style YAML for JSON data. Every string is written as a JSON string, which YAML
    reads as the same double-quoted scalar: no value can turn into another type or syntax."""
    return "\n".join(_yaml_lines(value, indent))


#: Plain (unquoted) keys: names like Kubernetes' own; anything else is quoted.
_PLAIN_KEY = r"[A-Za-z][A-Za-z0-9_.\-/]*"
#: Words YAML 1.1 readers take as booleans or null: always quoted.
_YAML_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null"])


def _scalar(value: object) -> str:
    """JSON for the value, with what YAML may not hold raw in a double-quoted scalar (DEL, C1
    controls with NEL, line/paragraph separators, BOM, non-characters) written as escapes."""
    import orjson

    text = orjson.dumps(value).decode()
    return text.translate(_YAML_ESCAPES) if isinstance(value, str) else text


_YAML_ESCAPES = {c: f"\\x{c:02x}" for c in range(0x7F, 0xA0)} | {
    c: f"\\u{c:04x}" for c in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF)}


def _key(key: str) -> str:
    import re

    if re.fullmatch(_PLAIN_KEY, key) and key.lower() not in _YAML_WORDS:
        return key
    return _scalar(key)


def _yaml_lines(value: object, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        lines: list[str] = []
        for key, item in value.items():
            head = f"{pad}{_key(str(key))}:"
            if isinstance(item, (dict, list)) and item:
                lines.append(head)
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                lines.append(f"{head} {_yaml_lines(item, 0)[0]}")
        return lines
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = _yaml_lines(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_yaml_lines(item, 0)[0]}")
        return lines
    return [pad + _scalar(value)]
