"""The operator's audit log: one JSON line per kubectl process or API call.

Enabled by ``GC_K8S_AUDIT_LOG=<path>``. Each line carries the time, the
operation, the pod, the argv with secret values redacted, the duration, the
exit code and a correlation id shared by every call of one invocation.
stdin is never logged: it carries nudges, staged files and secret env.
"""

from __future__ import annotations

import os
import time

#: Key fragments whose values are secrets, anywhere in the name (case-insensitive).
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "PRIVATE",
                "AUTH", "COOKIE", "SIGNATURE")
#: Short words that are secrets only as a whole ``_``-separated part: ``GITHUB_PAT``,
#: ``DB_PASS``, ``SENTRY_DSN``, but not ``PATH`` or ``PASSTHROUGH``.
SECRET_PARTS = frozenset({"PAT", "PASS", "PW", "PWD", "DSN", "JWT", "OTP", "PIN", "SALT",
                          "CERT", "SIG"})
REDACTED = "***"

_correlation = ""
_op = ""


def set_operation(op: str) -> None:
    global _op
    _op = op


def operation() -> str:
    """The provider op this process runs (``is-running``, ...), or ""."""
    return _op


def correlation_id() -> str:
    global _correlation
    if not _correlation:
        _correlation = os.urandom(6).hex()
    return _correlation


def is_secret_key(key: str) -> bool:
    """Whether a variable's name says its value is a secret (errs towards yes).

    A name this misses is no leak for the pod spec, which takes only allowlisted
    names (`gc_session_k8s.pod.environment`); here it decides what the audit log
    redacts.
    """
    upper = key.upper()
    if any(word in upper for word in SECRET_WORDS):
        return True
    parts = upper.replace("-", "_").replace(".", "_").split("_")
    return any(part in SECRET_PARTS for part in parts)


def redact_arg(arg: str) -> str:
    """``K=V`` with a secret-looking ``K`` becomes ``K=***`` (env argv and tmux ``-e``)."""
    key, eq, _value = arg.partition("=")
    if eq and key and " " not in key and is_secret_key(key):
        return key + "=" + REDACTED
    return arg


#: argv whose last element is a value that arrived on our stdin (set-meta, exec).
STDIN_TAILS = ("set-environment", 'eval "$1"')


def redact(argv: list[str]) -> list[str]:
    out = [redact_arg(a) for a in argv]
    at = out.index("set-environment") if "set-environment" in out[:-2] else -1
    meta = at >= 0 and "-u" not in out[at:]
    if meta or any(STDIN_TAILS[1] in a for a in out[-3:-1]):
        out[-1] = f"<{len(out[-1].encode())} bytes from stdin>"
    return out


def exec_argv(pod: str, container: str, argv: list[str]) -> list[str]:
    """An exec as the log shows it whichever transport ran it: ``exec POD [-c C] -- ARGV``."""
    return ["exec", pod, *(["-c", container] if container else []), "--", *argv]


def record(argv: list[str], *, pod: str, started: float, rc: int, transport: str = "kubectl",
           fallback: str = "", helper: str = "", resident: bool = False,
           cached: bool = False, detached: bool = False, environ: dict[str, str] | None = None,
           op: str | None = None, correlation: str = "") -> None:
    """Append one line when auditing is on; never fails the operation.

    ``transport`` says which door the call took (kubectl, direct, helper); ``fallback``
    why a faster transport handed the call to kubectl (that line has ``exit`` -1);
    ``helper`` why the helper did not serve a call that went direct instead;
    ``resident`` that the helper ran it through the pod's resident stream; ``cached`` that
    it answered with what it had read of the pod a moment before; ``detached``
    that the process was left to finish on its own (a rollback out of time).
    The helper, recording a call it ran for a client, passes that client's ``environ``,
    ``op`` and ``correlation`` id instead of its own.
    """
    path = (os.environ if environ is None else environ).get("GC_K8S_AUDIT_LOG")
    if not path:
        return
    import orjson

    line = orjson.dumps({
        "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "id": correlation or correlation_id(),
        "op": _op if op is None else op,
        "pod": pod,
        "argv": redact(argv),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
        "exit": rc,
        "transport": transport,
        **({"fallback": fallback} if fallback else {}),
        **({"helper": helper} if helper else {}),
        **({"resident": True} if resident else {}),
        **({"cached": True} if cached else {}),
        **({"detached": True} if detached else {}),
    }) + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)  # one write with O_APPEND: lines never interleave
        finally:
            os.close(fd)
    except OSError:
        pass
