"""Pod names, labels and the tmux target: deterministic, so no op lists before it execs.

The pod name is a function of the operator's city scope (``GC_K8S_CITY``) and
the session name only, so every operation can address the pod directly. The
city is joined with a ``.`` that sanitizing always rewrites, which forces the
hash suffix of `protocol.sanitize.pod_name`: two cities sharing a namespace
never collide, even when ``a`` + ``b--c`` and ``a--b`` + ``c`` would.
"""

from __future__ import annotations

import os

#: Characters of a name that is already a valid pod name (the common case).
_DNS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_HEX = frozenset("0123456789abcdef")

#: The tmux session inside every pod (upstream's constant).
TMUX_SESSION = "main"
APP_LABEL = "gc-agent"
SESSION_LABEL = "gc-session"
AGENT_LABEL = "gc-agent"
CITY_LABEL = "gc-city"
NAME_ANNOTATION = "gc-session-name"
#: A label that names the session exactly (a long hash of the name, `session_key`), so one
#: label-selected call (`stop`) can act on the session's own pod and no other.
KEY_LABEL = "gc-session-key"
#: The city scope (``GC_K8S_CITY``) in full: the label is sanitized, this is exact.
CITY_ANNOTATION = "gc-city"
#: The id of the start that made the pod (`start` writes it; the ledger forwarder reads it).
START_ID_ANNOTATION = "gc-start-id"
#: The agent container's copy of `NAME_ANNOTATION` (the downward API), which every exec
#: checks before it touches anything (`gc_session_k8s.pod_runner.guarded`).
SESSION_ENV = "GC_K8S_POD_SESSION"
AGENT_CONTAINER = "agent"
STAGE_CONTAINER = "stage"


def session_pod(name: str, city: str = "") -> str:
    """The pod of session ``name`` in city scope ``city`` (may be empty)."""
    if not city and len(name) <= 63 and _DNS.issuperset(name) and name[:1] != "-" \
            and name[-1:] != "-" and not (len(name) > 9 and name[-9] == "-"
                                          and _HEX.issuperset(name[-8:])):
        return name  # what pod_name returns, without importing hashlib on the hot path
    from protocol.sanitize import pod_name

    return pod_name(name, prefix=f"{city}." if city else "")


def city_of(operator_city: str, payload_city_path: str) -> str:
    """The city label: the operator's scope, else the basename of the payload's GC_CITY."""
    if operator_city:
        return operator_city
    base = os.path.basename(payload_city_path.rstrip("/"))
    return base


def labels(name: str, agent: str, city: str) -> dict[str, str]:
    """Upstream's labels (so its script and Go provider find our pods) plus the city."""
    from protocol.sanitize import label_value, sanitize_label

    out = {"app": APP_LABEL, SESSION_LABEL: sanitize_label(name),
           AGENT_LABEL: sanitize_label(agent or "unknown")}
    out[KEY_LABEL] = session_key(name)
    if city:
        out[CITY_LABEL] = label_value(city)
    return out


def session_key(name: str) -> str:
    """`KEY_LABEL`'s value: 63 hex digits of the name's SHA-256 (as long as a label allows)."""
    import hashlib

    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:63]


def city_label(city: str) -> str:
    """The ``gc-city`` label value: the city as is, or sanitized with a hash of the whole
    (`protocol.sanitize.label_value`), so ``acme/blue`` and ``acme-blue`` differ."""
    from protocol.sanitize import label_value

    return label_value(city)


def list_selector(operator_city: str) -> str:
    """The label selector of `list-running`: this city's agents, or all of them. The label
    narrows the listing; `is_own_pod` decides."""
    base = f"app={APP_LABEL}"
    return f"{base},{CITY_LABEL}={city_label(operator_city)}" if operator_city else base


def is_own_pod(pod: str, name: str, operator_city: str, pod_city: str) -> bool:
    """Is ``pod`` the one ``name`` maps to in this city scope? (``pod_city``: the pod's
    `CITY_ANNOTATION`.) A pod of another city, or one annotated with a name that maps
    elsewhere, is not this configuration's session: none of its ops would reach it."""
    return pod == session_pod(name, operator_city) and (
        not operator_city or pod_city == operator_city)
