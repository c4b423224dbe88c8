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

#: The tmux session inside every pod (upstream's constant).
TMUX_SESSION = "main"
APP_LABEL = "gc-agent"
SESSION_LABEL = "gc-session"
AGENT_LABEL = "gc-agent"
CITY_LABEL = "gc-city"
NAME_ANNOTATION = "gc-session-name"
AGENT_CONTAINER = "agent"
STAGE_CONTAINER = "stage"


def session_pod(name: str, city: str = "") -> str:
    """The pod of session ``name`` in city scope ``city`` (may be empty)."""
    if not city and len(name) <= 63 and _DNS.issuperset(name) and name[:1] != "-" \
            and name[-1:] != "-":
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
    from protocol.sanitize import sanitize_label

    out = {"app": APP_LABEL, SESSION_LABEL: sanitize_label(name),
           AGENT_LABEL: sanitize_label(agent or "unknown")}
    if city:
        out[CITY_LABEL] = sanitize_label(city)
    return out


def list_selector(operator_city: str) -> str:
    """The label selector of `list-running`: this city's agents, or all of them."""
    from protocol.sanitize import sanitize_label

    base = f"app={APP_LABEL}"
    return f"{base},{CITY_LABEL}={sanitize_label(operator_city)}" if operator_city else base
