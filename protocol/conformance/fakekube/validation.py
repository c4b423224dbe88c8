"""The subset of API server validation that clients of this project can trip on."""

from __future__ import annotations

import re
from typing import Any

from protocol.conformance.fakekube.errors import ApiError, invalid

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and bool(_DNS1123_LABEL.match(name))


def is_dns1123_subdomain(name: str) -> bool:
    return len(name) <= 253 and bool(_DNS1123_SUBDOMAIN.match(name))


def _name_causes(name: str, *, subdomain: bool) -> list[tuple[str, str]]:
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    ok = is_dns1123_subdomain(name) if subdomain else is_dns1123_label(name)
    if ok:
        return []
    limit = 253 if subdomain else 63
    if len(name) > limit:
        return [("metadata.name", f'Invalid value: "{name}": must be no more than {limit} characters')]
    return [("metadata.name", f'Invalid value: "{name}": ' + (SUBDOMAIN_MSG if subdomain else LABEL_MSG))]


def _label_causes(labels: Any) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    if not isinstance(labels, dict):
        return causes
    for key, value in labels.items():
        prefix, _, name = str(key).rpartition("/")
        if not _QUALIFIED_NAME.match(name) or len(name) > 63 or (prefix and not is_dns1123_subdomain(prefix)):
            msg = (f'Invalid value: "{key}": name part must consist of alphanumeric characters, '
                   "'-', '_' or '.', and must start and end with an alphanumeric character")
            causes.append(("metadata.labels", msg))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            too_long = isinstance(value, str) and len(value) > 63
            detail = "must be no more than 63 characters" if too_long else LABEL_VALUE_MSG
            causes.append(("metadata.labels", f'Invalid value: "{value}": {detail}'))
    return causes


def validate_metadata(kind: str, obj: dict[str, Any], *, subdomain: bool = True) -> None:
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    causes = _name_causes(name, subdomain=subdomain) + _label_causes(meta.get("labels"))
    if causes:
        raise invalid(kind, name, causes)


_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
#: ConfigMap and Secret payloads are capped at 1 MiB (keys and values together).
MAX_DATA_BYTES = 1 << 20


def validate_data(kind: str, obj: dict[str, Any]) -> None:
    """ConfigMap/Secret `data` keys and total size, as the real server checks them."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    causes: list[tuple[str, str]] = []
    total = 0
    for field in ("data", "binaryData", "stringData"):
        for key, value in (obj.get(field) or {}).items():
            total += len(str(key).encode()) + len(str(value or "").encode())
            if len(key) > 253 or not _CONFIG_KEY.match(key):
                causes.append((f"{field}[{key}]", f'Invalid value: "{key}": {CONFIG_KEY_MSG}'))
    if total > MAX_DATA_BYTES:
        causes.append(("[]", f"Too long: may not be more than {MAX_DATA_BYTES} bytes"))
    if causes:
        raise invalid(kind, name, causes)


def validate_pod(obj: dict[str, Any]) -> None:
    validate_metadata("Pod", obj)
    name = obj["metadata"]["name"]
    spec = obj.get("spec")
    causes: list[tuple[str, str]] = []
    if not isinstance(spec, dict):
        raise invalid("Pod", name, [("spec.containers", "Required value")])
    containers = spec.get("containers") or []
    if not containers:
        causes.append(("spec.containers", "Required value"))
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            cname = str(c.get("name") or "")
            where = f"spec.{group}[{i}]"
            if not cname:
                causes.append((f"{where}.name", "Required value"))
            elif not is_dns1123_label(cname):
                causes.append((f"{where}.name", f'Invalid value: "{cname}": {LABEL_MSG}'))
            elif cname in seen:
                causes.append((f"{where}.name", f'Duplicate value: "{cname}"'))
            seen.add(cname)
            if not c.get("image"):
                causes.append((f"{where}.image", "Required value"))
            for j, m in enumerate(c.get("volumeMounts") or []):
                vols = {v.get("name") for v in spec.get("volumes") or []}
                if m.get("name") not in vols:
                    causes.append((f"{where}.volumeMounts[{j}].name",
                                   f'Not found: "{m.get("name")}"'))
                if not str(m.get("mountPath") or "").startswith("/"):
                    causes.append((f"{where}.volumeMounts[{j}].mountPath", "Required value"))
    policy = spec.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        causes.append(("spec.restartPolicy", f'Unsupported value: "{policy}"'))
    if causes:
        raise invalid("Pod", name, causes)


_GO_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "number"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"),
)
#: The kinds the core/v1 scheme has that this server serves (others are "not registered").
_CORE_KINDS = ("Pod", "Namespace", "ConfigMap", "Secret")


def require_kind(obj: Any, kind: str, raw: bytes = b"") -> dict[str, Any]:
    """A create/update body as the real server's decoder takes it: null is an empty object,
    anything else that is not an object cannot say its kind, and an apiVersion/kind that is
    not core/v1 `kind` cannot be converted (worded as the real server words each)."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        go = next(name for t, name in _GO_KINDS if isinstance(obj, t))
        shown = raw.hex()[:60] + (" ..." if len(raw) > 30 else "")
        raise ApiError(400, f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                            f"version/kind; json parse error: json: cannot unmarshal {go} into Go value of "
                            'type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
                            f'"json:\\"kind,omitempty\\"" }} ({shown})')
    got = str(obj.get("kind") or kind)
    version = str(obj.get("apiVersion") or "v1")
    if (got, version) == (kind, "v1"):
        return obj
    head = f'{got} in version "{version.rpartition("/")[2]}" cannot be handled as a {kind}'
    if version == "v1" and got in _CORE_KINDS:
        raise ApiError(400, f"{head}: converting (v1.{got}) to (core.{kind}): unknown conversion")
    raise ApiError(400, f'{head}: no kind "{got}" is registered for version "{version}" in scheme '
                        '"pkg/runtime/scheme.go:111"')
