"""Fault rules: armed from Python (`server.faults`) or over HTTP (`POST /_fake/faults`).

Kinds:
  error        answer matching requests with `status` (500, 429 + Retry-After, ...)
  timeout      accept matching requests and never answer (until the client gives up)
  exec-slow    delay the exec upgrade by `delay` seconds
  exec-refuse  refuse the exec upgrade (HTTP `status`, default 500)
  deny         403 Forbidden for `verb` on `resource` (e.g. create pods/exec)
  pending      pods whose name matches `pod` stay Pending until released
Rules apply to the next `times` matching requests (null = until cleared).
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("error", "timeout", "exec-slow", "exec-refuse", "deny", "pending")


@dataclass
class Fault:
    kind: str
    method: str = "*"  # HTTP method, or * for any
    path: str = ".*"  # regex, full match against the URL path (no query)
    status: int = 500
    retry_after: int | None = None
    times: int | None = 1
    delay: float = 5.0
    verb: str = "*"  # deny: get list watch create update patch delete deletecollection
    resource: str = "*"  # deny: pods, pods/exec, pods/log, secrets, ...
    namespace: str | None = None  # deny: limit to one namespace
    pod: str = ".*"  # pending: pod-name regex
    message: str = ""
    id: int = 0
    hits: int = 0
    _path_re: re.Pattern[str] = field(default=re.compile(".*"), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        self._path_re = re.compile(self.path)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_path_re", None)
        return d

    def _method_ok(self, method: str) -> bool:
        return self.method in ("*", "") or self.method.upper() == method.upper()


FIELDS = {f for f in Fault.__dataclass_fields__ if not f.startswith("_") and f not in ("id", "hits")}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, kind: str, **kw: Any) -> Fault:
        unknown = set(kw) - FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        f = Fault(kind, **kw)
        with self._lock:
            f.id = next(self._ids)
            self._rules.append(f)
        return f

    def remove(self, fault_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != fault_id]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def _take(self, pred: Any) -> Fault | None:
        with self._lock:
            for r in self._rules:
                if pred(r):
                    r.hits += 1
                    if r.times is not None:
                        r.times -= 1
                        if r.times <= 0:
                            self._rules.remove(r)
                    return r
        return None

    def request_fault(self, method: str, path: str) -> Fault | None:
        return self._take(lambda r: r.kind in ("error", "timeout") and r._method_ok(method)
                          and r._path_re.fullmatch(path))

    def exec_fault(self, method: str, path: str) -> Fault | None:
        return self._take(lambda r: r.kind in ("exec-slow", "exec-refuse") and r._method_ok(method)
                          and r._path_re.fullmatch(path))

    def denied(self, verb: str, resource: str, namespace: str) -> Fault | None:
        return self._take(lambda r: r.kind == "deny" and r.verb in ("*", verb)
                          and r.resource in ("*", resource)
                          and (r.namespace is None or r.namespace == namespace))

    def hold_pending(self, pod_name: str) -> Fault | None:
        return self._take(lambda r: r.kind == "pending" and re.fullmatch(r.pod, pod_name))

    # A deny check without consuming (SelfSubjectAccessReview answers).
    def would_deny(self, verb: str, resource: str, namespace: str) -> bool:
        with self._lock:
            return any(r.kind == "deny" and r.verb in ("*", verb) and r.resource in ("*", resource)
                       and (r.namespace is None or r.namespace == namespace) for r in self._rules)
