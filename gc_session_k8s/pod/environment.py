"""The pod's environment from the start payload (session-protocol.md §4.4, the script's rules).

The payload is the only authority for the Dolt target: host without port is
an error; host and port are used verbatim; a port alone means the managed
in-cluster alias (``GC_K8S_DOLT_HOST``/``PORT``); neither means no Dolt vars.
Controller-only variables never reach the pod, controller paths under the
city are remapped to ``/workspace``, and empty values mean "unset" (as in the
tmux provider).

The secret rule, one for every value: **a variable goes into the pod spec
only if it is known not to be secret**, that is

* its name is one of Gas City's own (``GC_*``, ``BEADS_*``, ``GT_*``) or a
  locale/terminal setting (`PLAIN_NAMES`), and is a plain identifier
  (``[A-Za-z_][A-Za-z0-9_]*``);
* its name has no secret word (`providers.kube.audit.is_secret_key`:
  ``TOKEN``, ``PASSWORD``, ``KEY``, ``AUTH``, ``PAT``, ``DSN``...);
* its value carries no credentials (`carries_credentials`: a URL with user
  info, ``postgres://u:pw@db`` or ``https://<token>@host``, or a PEM block).

Everything else (``GITHUB_PAT``, ``DATABASE_URL``, ``ANTHROPIC_API_KEY``,
``MY_SETTING``) is secret env: never in the spec, an argv or the audit log, it
reaches the agent's tmux session byte for byte through the launch exec's stdin
(see `start`). So the pod spec, readable by anyone who may ``get pods``, holds
no secret a name-based guess could miss; the price is that ``pre_start`` and
``exec`` (which run with the container's env) see only the plain part.
"""

from __future__ import annotations

import os

from protocol.errors import UsageError
from providers.kube.audit import is_secret_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gc_session_k8s.settings import Settings

WORKSPACE = "/workspace"
CONTROLLER_ONLY = ("BEADS_DOLT_SERVER_HOST", "BEADS_DOLT_SERVER_PORT", "GC_BEADS", "GC_SESSION",
                   "GC_EVENTS", "GC_DOLT_HOST", "GC_DOLT_PORT", "GC_K8S_DOLT_HOST",
                   "GC_K8S_DOLT_PORT", "GC_MAIL", "GC_MCP_MAIL_URL", "GC_MCP_MAIL_PROJECT")
#: Controller paths rewritten into the pod (Go provider's list).
PATH_VARS = ("GC_STORE_ROOT", "GC_RIG_ROOT", "BEADS_DIR", "GT_ROOT", "GC_CITY_RUNTIME_DIR",
             "GC_PACK_STATE_DIR", "GC_PACK_DIR")
CITY_VARS = ("GC_CITY", "GC_CITY_PATH", "GC_CITY_ROOT")
#: Gas City's own variables: plain unless the name or value says otherwise.
PLAIN_PREFIXES = ("GC_", "BEADS_", "GT_")
#: Other names known not to hold secrets.
PLAIN_NAMES = frozenset({"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM",
                         "COLORTERM", "TZ"})
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT = _IDENT_START | frozenset("0123456789")


def carries_credentials(value: str) -> bool:
    """A URL with user info (``scheme://user:pw@host``, ``https://<token>@host``) or a PEM block."""
    if "-----BEGIN" in value:
        return True
    at = value.find("://")
    while at >= 0:
        authority = value[at + 3:].split("/", 1)[0]
        if "@" in authority:
            return True
        at = value.find("://", at + 3)
    return False


def is_plain(key: str, value: str) -> bool:
    """The secret rule (module docstring): may this variable go into the pod spec?"""
    if not key or key[0] not in _IDENT_START or not set(key) <= _IDENT:
        return False
    if not (key.startswith(PLAIN_PREFIXES) or key in PLAIN_NAMES):
        return False
    return not is_secret_key(key) and not carries_credentials(value)


def under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` when strictly inside it (else None)."""
    if not path or not root:
        return None
    path, root = os.path.normpath(path), os.path.normpath(root)
    if path == root:
        return ""
    if root != "/" and path.startswith(root + "/"):
        return path[len(root) + 1:]
    return None


def pod_work_dir(work_dir: str, city: str) -> str:
    """``/workspace``, or ``/workspace/<rel>`` for a work dir inside the controller city."""
    rel = under(work_dir, city)
    return f"{WORKSPACE}/{rel}" if rel else WORKSPACE


def remap(value: str, city: str) -> str:
    rel = under(value, city)
    if rel is None:
        return value
    return f"{WORKSPACE}/{rel}" if rel else WORKSPACE


def dolt_target(env: dict[str, str], settings: Settings) -> tuple[str, str] | None:
    host, port = env.get("GC_DOLT_HOST", ""), env.get("GC_DOLT_PORT", "")
    if host and not port:
        raise UsageError("start: session payload requires GC_DOLT_PORT when GC_DOLT_HOST is set")
    if host:
        return host, port
    if port:
        return settings.dolt_host, settings.dolt_port
    return None


def project(payload_env: dict[str, str], work_dir: str, settings: Settings
            ) -> tuple[dict[str, str], dict[str, str]]:
    """(pod env, secret env): both sorted; empty values dropped (unset)."""
    city = payload_env.get("GC_CITY", "")
    out: dict[str, str] = {}
    for key, value in sorted(payload_env.items()):
        if key in CONTROLLER_ONLY or value == "":
            continue
        if key in PATH_VARS:
            value = remap(value, city)
        out[key] = value
    for key in CITY_VARS:
        if key in out or key == "GC_CITY":
            out[key] = WORKSPACE
    out["GC_DIR"] = pod_work_dir(work_dir, city)
    target = dolt_target(payload_env, settings)
    if target:
        host, port = target
        out.update(GC_DOLT_HOST=host, GC_DOLT_PORT=port, BEADS_DOLT_SERVER_HOST=host,
                   BEADS_DOLT_SERVER_PORT=port)
    out["GC_MCP_MAIL_URL"] = f"http://{settings.mail_host}:{settings.mail_port}"
    out["GC_MCP_MAIL_PROJECT"] = city or WORKSPACE
    out["GC_TMUX_SESSION"] = "main"
    public = {k: v for k, v in sorted(out.items()) if is_plain(k, v)}
    secret = {k: v for k, v in sorted(out.items()) if k not in public}
    return public, secret
