"""Bearer tokens: static, from a file, or from an exec credential plugin.

A plugin's token is kept in memory per target (for a plugin, a target's key holds the
caller's whole environment and working directory: `providers.kube.transport.kubeconfig`)
until its ``expirationTimestamp`` (a token with no expiry: until the server answers 401),
as client-go does. In a one-shot executable that
means one plugin run per op (what kubectl does too); in the helper, one run per expiry.
A plugin that returns a client certificate, or fails, is kubectl's to run (`Fallback`).
"""

from __future__ import annotations

import os
import time

from protocol.proc import Timeout, run
from providers.kube.transport.interface import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.transport.target import Target

#: Refresh this long before the stated expiry (clock skew, request latency).
MARGIN = 5.0
PLUGIN_TIMEOUT = 60.0

_tokens: dict[str, tuple[str, float | None]] = {}
MAX_TOKENS = 1024
runs = 0  # plugin runs in this process (the helper reports it; tests read it)


def bearer(t: Target, *, fresh: bool = False) -> str:
    """The token to send ("" for none). ``fresh`` drops a cached plugin token (after a 401)."""
    if t.exec_spec is None:
        return t.bearer()
    if fresh:
        _tokens.pop(t.key, None)
    cached = _tokens.get(t.key)
    if cached is not None and (cached[1] is None or cached[1] - MARGIN > time.time()):
        return cached[0]
    token, expiry = run_plugin(t.exec_spec, t.env, t.cwd)
    if len(_tokens) >= MAX_TOKENS:  # one per caller identity: bounded, dropped whole
        _tokens.clear()
    _tokens[t.key] = (token, expiry)
    return token


def forget(t: Target) -> None:
    _tokens.pop(t.key, None)


def run_plugin(spec: dict[str, object], base_env: dict[str, str] | None = None,
               cwd: str | None = None) -> tuple[str, float | None]:
    """One run of the plugin with ``base_env`` (a caller's whole environment) in ``cwd``
    (that caller's working directory), as kubectl would run it for that caller."""
    import json

    global runs
    api = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1")
    info: dict[str, object] = {"kind": "ExecCredential", "apiVersion": api,
                               "spec": {"interactive": False}}
    if spec.get("provideClusterInfo"):
        cluster = dict(spec.get("_cluster") or {})  # type: ignore[call-overload]
        info["spec"] = {"interactive": False, "cluster": {
            "server": cluster.get("server", ""),
            "tls-server-name": cluster.get("tls-server-name", ""),
            "insecure-skip-tls-verify": bool(cluster.get("insecure-skip-tls-verify")),
            "certificate-authority-data": cluster.get("certificate-authority-data", ""),
            "config": (cluster.get("extensions") or {}),
        }}
    env = dict(os.environ if base_env is None else base_env)
    for item in spec.get("env") or []:  # type: ignore[attr-defined]
        if isinstance(item, dict) and item.get("name"):
            env[str(item["name"])] = str(item.get("value", ""))
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    argv = [str(spec["command"]), *(str(a) for a in spec.get("args") or [])]  # type: ignore[attr-defined]
    runs += 1
    try:
        result = run(argv, env=env, cwd=cwd, timeout=PLUGIN_TIMEOUT, new_group=True)
    except (OSError, Timeout) as error:  # never a signal's Interrupted: that must unwind
        raise Fallback(f"exec credential plugin: {error}") from None
    if not result.ok:
        raise Fallback(f"exec credential plugin exited {result.rc}")
    try:
        cred = json.loads(result.out)
        status = cred.get("status") or {}
    except (ValueError, AttributeError):
        raise Fallback("exec credential plugin printed no ExecCredential") from None
    if status.get("clientCertificateData") or status.get("clientKeyData"):
        raise Fallback("exec credential plugin returns a client certificate")
    token = status.get("token")
    if not token or not isinstance(token, str):
        raise Fallback("exec credential plugin returned no token")
    stamp = status.get("expirationTimestamp")
    return token, parse_rfc3339(stamp) if isinstance(stamp, str) and stamp else None


def parse_rfc3339(text: str) -> float | None:
    """``2026-12-01T22:00:00Z`` (fraction and ±hh:mm offset allowed) to epoch seconds."""
    try:
        date, _, clock = text.upper().partition("T")
        year, month, day = (int(x) for x in date.split("-"))
        offset = 0
        if clock.endswith("Z"):
            clock = clock[:-1]
        elif len(clock) > 6 and clock[-6] in "+-":
            sign = 1 if clock[-6] == "+" else -1
            offset = sign * (int(clock[-5:-3]) * 3600 + int(clock[-2:]) * 60)
            clock = clock[:-6]
        hh, mm, ss = clock.split(":")
        seconds = int(hh) * 3600 + int(mm) * 60 + float(ss)
    except ValueError:
        return None
    # Days from the civil date (Howard Hinnant's algorithm): no calendar/datetime import.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + seconds - offset
