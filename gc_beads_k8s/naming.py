"""Names derived from the city: the runner pod, its labels, scope directories.

Each city gets its own runner pod, ``gc-beads-<city>-<hash8(city path)>``, so
two cities in one namespace never share a pod, a ``/workspace`` or a ``.beads``
directory. Scope roots map into the pod's workspace: the city root is the
workspace itself, ``<city>/rel`` is ``<workspace>/rel``, and a rig outside the
city is ``<workspace>/_ext/<hash12(root)>``.
"""

from __future__ import annotations

import hashlib
import os

from protocol.errors import UsageError
from protocol.sanitize import sanitize_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

LEGACY_POD = "gc-beads-runner"
COMPONENT = "beads-runner"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:length]


def city_root(env: Mapping[str, str], fallback: str = "") -> str:
    """``GC_CITY_PATH``, else ``GC_CITY``, else ``GC_CITY_ROOT``, else ``fallback``."""
    raw = env.get("GC_CITY_PATH") or env.get("GC_CITY") or env.get("GC_CITY_ROOT") or fallback
    return os.path.normpath(os.path.abspath(raw)) if raw else ""


def city_id(city: str) -> str:
    """A short stable identity of a city: its label value and database owner mark."""
    return _digest(city, 10) if city else "none"


def runner_pod(city: str, override: str = "") -> str:
    """The runner pod's name (``GC_K8S_BEADS_RUNNER_POD`` wins; no city → legacy name)."""
    if override:
        name = sanitize_name(override)
        if name != override:
            raise UsageError(f"GC_K8S_BEADS_RUNNER_POD={override!r} is not a valid pod name")
        return name
    if not city:
        return LEGACY_POD
    base = sanitize_name(os.path.basename(city) or "city")[:40].strip("-") or "city"
    return f"gc-beads-{base}-{_digest(city, 8)}"


def scope_workdir(root: str, city: str, workspace: str) -> str:
    """Map a scope root on the controller to its directory inside the pod."""
    if not root:
        return workspace
    if root == workspace or root.startswith(workspace + "/"):
        return os.path.normpath(root)
    path = os.path.normpath(os.path.abspath(root))
    if city and path == city:
        return workspace
    if city and path.startswith(city.rstrip("/") + "/"):
        return workspace + "/" + path[len(city.rstrip("/")) + 1 :]
    return f"{workspace}/_ext/{_digest(path, 12)}"


def database_name(prefix: str, explicit: str = "") -> str:
    """bd's default database: the prefix with ``-``/``.`` → ``_``; a digit start gets ``bd_``."""
    if explicit:
        return explicit
    name = prefix.replace("-", "_").replace(".", "_")
    return f"bd_{name}" if name[:1].isdigit() else name
