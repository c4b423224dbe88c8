"""In-memory object store with a global resourceVersion and watch fan-out."""

from __future__ import annotations

import builtins
import collections
import copy
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from protocol.conformance.fakekube.errors import ApiError, already_exists, not_found

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (resource, namespace or "", name)

# Singular kind names used in Status messages, e.g. `pods "x" not found`.
KINDS = {
    "pods": "Pod",
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "namespaces": "Namespace",
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    type: str  # ADDED | MODIFIED | DELETED
    resource: str
    rv: int
    obj: Obj
    old: Obj | None


@dataclass
class Watcher:
    resource: str
    namespace: str | None
    events: queue.Queue[Event | None] = field(default_factory=queue.Queue)


class Store:
    """Thread-safe. Objects handed out are deep copies."""

    HISTORY = 2000

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[Key, Obj] = {}
        self._rv = 1
        self._history: collections.deque[Event] = collections.deque(maxlen=self.HISTORY)
        self._watchers: list[Watcher] = []

    @property
    def resource_version(self) -> int:
        return self._rv

    def _emit(self, type_: str, resource: str, obj: Obj, old: Obj | None) -> None:
        ev = Event(type_, resource, self._rv, copy.deepcopy(obj), old)
        self._history.append(ev)
        for w in self._watchers:
            if w.resource == resource and (
                w.namespace is None or w.namespace == obj["metadata"].get("namespace", "")
            ):
                w.events.put(ev)

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._objects.get((resource, namespace, name))
            if obj is None:
                raise not_found(resource, name)
            return copy.deepcopy(obj)

    def find(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            obj = self._objects.get((resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None) -> list[Obj]:
        with self.lock:
            return [
                copy.deepcopy(o)
                for (r, ns, _), o in sorted(self._objects.items())
                if r == resource and (namespace is None or ns == namespace)
            ]

    def create(self, resource: str, namespace: str, obj: Obj) -> Obj:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            name = meta["name"]
            key = (resource, namespace, name)
            if key in self._objects:
                raise already_exists(resource, name)
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["creationTimestamp"] = now_iso()
            if namespace:
                meta["namespace"] = namespace
            self._objects[key] = copy.deepcopy(obj)
            self._emit("ADDED", resource, obj, None)
            return copy.deepcopy(obj)

    def replace(self, resource: str, namespace: str, obj: Obj) -> Obj:
        """Store a new version of an existing object (bumps resourceVersion)."""
        with self.lock:
            name = obj["metadata"]["name"]
            key = (resource, namespace, name)
            old = self._objects.get(key)
            if old is None:
                raise not_found(resource, name)
            if obj == old:
                return copy.deepcopy(old)
            self._rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._objects[key] = obj
            self._emit("MODIFIED", resource, obj, old)
            return copy.deepcopy(obj)

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            key = (resource, namespace, name)
            old = self._objects.pop(key, None)
            if old is None:
                raise not_found(resource, name)
            self._rv += 1
            obj = copy.deepcopy(old)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._emit("DELETED", resource, obj, old)
            return obj

    def watch(
        self, resource: str, namespace: str | None, since_rv: int | None
    ) -> tuple[Watcher, builtins.list[Event] | None]:
        """Register a watcher. With since_rv, also return the missed history
        (None when since_rv is older than the kept history: 410 Gone)."""
        with self.lock:
            w = Watcher(resource, namespace)
            self._watchers.append(w)
            if since_rv is None:
                return w, []
            if self._history and self._history[0].rv > since_rv + 1 and since_rv < self._rv:
                oldest = self._history[0].rv
                if since_rv < oldest - 1:
                    return w, None
            missed = [
                ev
                for ev in self._history
                if ev.rv > since_rv
                and ev.resource == resource
                and (namespace is None or ev.obj["metadata"].get("namespace", "") == namespace)
            ]
            return w, missed

    def unwatch(self, w: Watcher) -> None:
        with self.lock:
            if w in self._watchers:
                self._watchers.remove(w)

    def close_watchers(self) -> None:
        with self.lock:
            for w in self._watchers:
                w.events.put(None)
            self._watchers.clear()


def check_exists(store: Store, namespace: str) -> None:
    if store.find("namespaces", "", namespace) is None:
        raise ApiError(404, f'namespaces "{namespace}" not found',
                       details={"name": namespace, "kind": "namespaces"})
