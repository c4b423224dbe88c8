"""The fake kubelet: runs each pod's containers through a backend and keeps
the pod's status in the store in step with the real processes."""

from __future__ import annotations

import base64
import os
import queue
import shutil
import signal
import sys
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from protocol.conformance.fakekube.backends.base import Backend, ContainerRun, RunningContainer, Sandbox
from protocol.conformance.fakekube.errors import ApiError
from protocol.conformance.fakekube.pods import ContainerState, build_status
from protocol.conformance.fakekube.store import Obj, Store


def _sub_path(volume: str, sub: str) -> str:
    """A mount's ``subPath`` inside its volume, created as the kubelet does."""
    if not sub:
        return volume
    path = os.path.realpath(os.path.join(volume, sub))
    if not path.startswith(os.path.realpath(volume) + os.sep):
        raise ConfigError(f"subPath {sub!r} escapes its volume")
    os.makedirs(path, exist_ok=True)
    return path


class ConfigError(Exception):
    """A referenced secret/configmap key is missing (CreateContainerConfigError)."""


def _resolve_env(store: Store, pod: Obj, c: Obj) -> dict[str, str]:
    ns = pod["metadata"]["namespace"]
    env: dict[str, str] = {}

    def source(kind: str, name: str, optional: bool) -> dict[str, str] | None:
        obj = store.find(kind, ns, name)
        if obj is None:
            if optional:
                return None
            raise ConfigError(f'{kind[:-1]} "{name}" not found')
        if kind == "secrets":
            return {k: base64.b64decode(v).decode(errors="replace")
                    for k, v in (obj.get("data") or {}).items()} | dict(obj.get("stringData") or {})
        return dict(obj.get("data") or {})

    for ef in c.get("envFrom") or []:
        for kind, key in (("secrets", "secretRef"), ("configmaps", "configMapRef")):
            ref = ef.get(key)
            if ref:
                data = source(kind, ref["name"], bool(ref.get("optional")))
                for k, v in (data or {}).items():
                    env[ef.get("prefix", "") + k] = v
    for e in c.get("env") or []:
        name = e["name"]
        vf = e.get("valueFrom")
        if not vf:
            env[name] = str(e.get("value", ""))
            continue
        if "fieldRef" in vf:
            path = vf["fieldRef"]["fieldPath"]
            if path.startswith(("metadata.labels['", "metadata.annotations['")):
                group, _, key = path.partition("['")
                env[name] = str((pod["metadata"].get(group.split(".")[1]) or {}).get(key[:-2], ""))
            else:
                cur: Any = pod
                for part in path.split("."):
                    cur = cur.get(part) if isinstance(cur, dict) else None
                env[name] = "" if cur is None else str(cur)
            continue
        for kind, key in (("secrets", "secretKeyRef"), ("configmaps", "configMapKeyRef")):
            ref = vf.get(key)
            if ref:
                optional = bool(ref.get("optional"))
                data = source(kind, ref["name"], optional)
                if data is not None and ref["key"] in data:
                    env[name] = data[ref["key"]]
                elif not optional:
                    raise ConfigError(f'couldn\'t find key {ref["key"]} in {kind[:-1]} {ns}/{ref["name"]}')
    return env


class PodRunner(threading.Thread):
    """One pod's lifecycle. Public methods are called from API threads."""

    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        super().__init__(name=f"pod-{pod['metadata']['name']}", daemon=True)
        self.kubelet = kubelet
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.uid = pod["metadata"]["uid"]
        self.pod_dir = os.path.join(kubelet.root_dir, "pods", self.uid)
        spec = pod["spec"]
        self.policy = spec.get("restartPolicy", "Always")
        self.init_states = [ContainerState(c["name"], c["image"], True) for c in spec.get("initContainers") or []]
        self.main_states = [ContainerState(c["name"], c["image"], False) for c in spec["containers"]]
        for s in self.main_states:
            s.wait("ContainerCreating" if not self.init_states else "PodInitializing")
        for s in self.init_states:
            s.wait("PodInitializing")
        self.phase = "Pending"
        self.reason = ""
        self.message = ""
        self.sandbox: Sandbox | None = None
        self.runs: dict[str, ContainerRun] = {}
        self.running: dict[str, RunningContainer] = {}
        self.exit_overrides: dict[str, int] = {}
        self.stopping = threading.Event()
        self.released = threading.Event()  # set unless a "stuck pending" fault holds it
        self.lock = threading.RLock()

    # -- status ------------------------------------------------------------
    def publish(self) -> None:
        store = self.kubelet.store
        with store.lock:
            cur = store.find("pods", self.ns, self.name)
            if cur is None or cur["metadata"]["uid"] != self.uid:
                return
            with self.lock:
                cur["status"] = build_status(cur, self.phase, self.init_states, self.main_states,
                                             reason=self.reason, message=self.message)
            store.replace("pods", self.ns, cur)

    # -- lifecycle ---------------------------------------------------------
    def run(self) -> None:
        try:
            self._lifecycle()
        except Exception:  # keep the server alive; surface the bug in the pod status
            traceback.print_exc(file=sys.stderr)
            with self.lock:
                self.phase, self.reason = "Failed", "FakeKubeletError"
                self.message = traceback.format_exc(limit=3)
            self.publish()
        finally:
            self._stop_all()

    def _prepare(self, pod: Obj) -> None:
        volumes: dict[str, str] = {}
        vol_root = os.path.join(self.pod_dir, "volumes")
        for v in pod["spec"].get("volumes") or []:
            if "hostPath" in v:
                volumes[v["name"]] = v["hostPath"]["path"]
                continue
            if "persistentVolumeClaim" in v:
                # One directory per claim, shared by every pod that mounts it and kept for
                # the server's lifetime: a dynamically provisioned, always-bound volume.
                claim = v["persistentVolumeClaim"].get("claimName", "")
                d = os.path.join(self.kubelet.root_dir, "claims", self.ns, claim)
                os.makedirs(d, exist_ok=True)
                volumes[v["name"]] = d
                continue
            d = os.path.join(vol_root, v["name"])
            os.makedirs(d, exist_ok=True)
            volumes[v["name"]] = d
            self._materialize(v, d)
        for c in [*(pod["spec"].get("initContainers") or []), *pod["spec"]["containers"]]:
            self.runs[c["name"]] = ContainerRun(
                name=c["name"], image=c["image"],
                command=list(c.get("command") or []), args=list(c.get("args") or []),
                env=_resolve_env(self.kubelet.store, pod, c),
                working_dir=c.get("workingDir") or "",
                mounts=[(_sub_path(volumes[m["name"]], m.get("subPath") or ""), m["mountPath"],
                         bool(m.get("readOnly"))) for m in c.get("volumeMounts") or []],
            )

    def _materialize(self, vol: Obj, d: str) -> None:
        for kind, key, name_key in (("secrets", "secret", "secretName"),
                                    ("configmaps", "configMap", "name")):
            src = vol.get(key)
            if src is None:
                continue
            obj = self.kubelet.store.find(kind, self.ns, src.get(name_key, ""))
            if obj is None:
                if not src.get("optional"):
                    raise ConfigError(f'{kind[:-1]} "{src.get(name_key)}" not found')
                return
            data: dict[str, bytes] = {}
            for k, v in (obj.get("data") or {}).items():
                data[k] = base64.b64decode(v) if kind == "secrets" else str(v).encode()
            for k, v in (obj.get("binaryData") or {}).items():
                data[k] = base64.b64decode(v)
            items = src.get("items")
            pairs = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
            for k, path in pairs:
                if k in data:
                    target = os.path.join(d, path)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "wb") as f:
                        f.write(data[k])

    def _wait_released(self) -> bool:
        while not self.released.wait(0.1):
            if self.stopping.is_set():
                return False
        return not self.stopping.is_set()

    def _lifecycle(self) -> None:
        self.publish()
        if not self._wait_released():
            return
        pod = self.kubelet.store.find("pods", self.ns, self.name)
        if pod is None:
            return
        backend = self.kubelet.backend
        attempts = 0
        while True:  # image "pull" and config resolution, retried like the kubelet does
            problem = ""
            reason = ""
            missing = [c for c in (*self.init_states, *self.main_states)
                       if not backend.image_present(c.image)]
            if missing:
                reason = "ErrImagePull" if attempts == 0 else "ImagePullBackOff"
                image = missing[0].image
                problem = (f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}"'
                           if attempts == 0 else f'Back-off pulling image "{image}"')
                with self.lock:
                    for c in missing:
                        c.wait(reason, problem)
            else:
                try:
                    self._prepare(pod)
                    break
                except ConfigError as e:
                    reason, problem = "CreateContainerConfigError", str(e)
                    with self.lock:
                        for c in (*self.init_states, *self.main_states):
                            c.wait(reason, problem)
            attempts += 1
            self.publish()
            if self.stopping.wait(1.0):
                return
            pod = self.kubelet.store.find("pods", self.ns, self.name) or pod
        os.makedirs(self.pod_dir, exist_ok=True)
        self.sandbox = backend.create_sandbox(pod, self.pod_dir, list(self.runs.values()))
        for st in self.init_states:
            if self.stopping.is_set():
                return
            code = self._run_to_end(st)
            if code != 0:
                with self.lock:
                    self.phase = "Failed"
                    for m in self.main_states:
                        m.wait("PodInitializing")
                self.publish()
                return
        if self.stopping.is_set():
            return
        self._run_main()

    def _run_to_end(self, st: ContainerState) -> int:
        assert self.sandbox is not None
        c = self.sandbox.start(self.runs[st.name])
        with self.lock:
            self.running[st.name] = c
            st.run(c.container_id)
        self.publish()
        code = c.wait()
        with self.lock:
            code = self.exit_overrides.pop(st.name, code)
            self.running.pop(st.name, None)
            st.terminate(code)
        self.publish()
        return code

    def _run_main(self) -> None:
        assert self.sandbox is not None
        done: queue.Queue[tuple[ContainerState, int]] = queue.Queue()

        def start(st: ContainerState) -> None:
            assert self.sandbox is not None
            c = self.sandbox.start(self.runs[st.name])
            with self.lock:
                self.running[st.name] = c
                st.run(c.container_id)
            def wait() -> None:
                try:
                    code = c.wait()
                except Exception:  # a broken backend call must not wedge the pod
                    traceback.print_exc(file=sys.stderr)
                    code = 137
                done.put((st, code))

            threading.Thread(target=wait, daemon=True).start()

        for st in self.main_states:
            start(st)
        with self.lock:
            self.phase = "Running"
        self.publish()
        remaining = len(self.main_states)
        while remaining:
            st, code = done.get()
            with self.lock:
                code = self.exit_overrides.pop(st.name, code)
                self.running.pop(st.name, None)
                restart = not self.stopping.is_set() and self.reason != "Evicted" and (
                    self.policy == "Always" or (self.policy == "OnFailure" and code != 0))
                if restart:
                    st.terminate(code)
                    st.last_terminated = st.to_status()["state"]["terminated"]
                    st.restart_count += 1
                    st.wait("CrashLoopBackOff", f"back-off restarting failed container {st.name}")
                else:
                    st.terminate(code)
                    remaining -= 1
            self.publish()
            if restart and not self.stopping.wait(1.0):
                start(st)
                self.publish()
        with self.lock:
            if self.reason != "Evicted":
                ok = all(s.exit_code == 0 for s in self.main_states)
                self.phase = "Succeeded" if ok else "Failed"
        self.publish()

    def _stop_all(self) -> None:
        if self.sandbox is not None:
            self.sandbox.destroy()

    # -- API-side actions ---------------------------------------------------
    def terminate(self, grace: float) -> None:
        """Graceful stop: SIGTERM everything, SIGKILL after `grace` seconds."""
        self.stopping.set()
        if self.sandbox is not None and grace > 0:
            self.sandbox.signal_all(signal.SIGTERM)
            self.join(timeout=grace)
        if self.sandbox is not None:
            self.sandbox.signal_all(signal.SIGKILL)
        self.join(timeout=30)

    def exit_container(self, code: int, container: str | None) -> None:
        name = container or self.main_states[0].name
        with self.lock:
            c = self.running.get(name)
            if c is None:
                raise ApiError(400, f"container {name} is not running")
            self.exit_overrides[name] = code
        c.kill(signal.SIGKILL)

    def evict(self) -> None:
        with self.lock:
            self.phase, self.reason = "Failed", "Evicted"
            self.message = "The node was low on resource: memory. "
        if self.sandbox is not None:
            self.sandbox.signal_all(signal.SIGKILL)
        self.publish()

    def exec_target(self, container: str | None) -> tuple[Sandbox, ContainerRun]:
        pod = self.kubelet.store.find("pods", self.ns, self.name)
        spec_names = [s.name for s in (*self.main_states, *self.init_states)]
        if container is None:
            default = ((pod or {}).get("metadata", {}).get("annotations") or {}).get(
                "kubectl.kubernetes.io/default-container")
            container = default or self.main_states[0].name
        if container not in spec_names:
            raise ApiError(400, f"container {container} is not valid for pod {self.name}")
        with self.lock:
            running = container in self.running and self.sandbox is not None
            if not running:
                raise ApiError(400, f'unable to upgrade connection: container not found ("{container}")')
            assert self.sandbox is not None
            return self.sandbox, self.runs[container]


class Kubelet:
    def __init__(self, store: Store, backend: Backend, root_dir: str) -> None:
        self.store = store
        self.backend = backend
        self.root_dir = root_dir
        self.runners: dict[str, PodRunner] = {}
        self.lock = threading.Lock()
        self.seen_uids: set[str] = set()  # every pod this kubelet ran (leak checks)

    def pod_created(self, pod: Obj, *, hold: bool = False) -> None:
        r = PodRunner(self, pod)
        if not hold:
            r.released.set()
        with self.lock:
            self.runners[r.uid] = r
            self.seen_uids.add(r.uid)
        r.start()

    def runner(self, ns: str, name: str) -> PodRunner:
        pod = self.store.find("pods", ns, name)
        if pod is None:
            raise ApiError(404, f'pods "{name}" not found', details={"name": name, "kind": "pods"})
        with self.lock:
            r = self.runners.get(pod["metadata"]["uid"])
        if r is None:
            raise ApiError(500, f"pod {ns}/{name} has no runner")
        return r

    def delete_pod(self, ns: str, name: str, grace: int | None) -> Obj:
        """The API-side DELETE: mark, then stop in the background and remove."""
        store = self.store
        with store.lock:
            pod = store.get("pods", ns, name)
            uid = pod["metadata"]["uid"]
            with self.lock:
                r = self.runners.get(uid)
            if grace is None:
                grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
            terminal = pod["status"].get("phase") in ("Succeeded", "Failed")
            if grace == 0 or terminal or r is None:
                obj = store.delete("pods", ns, name)
                if r is not None:
                    r.stopping.set()
                    threading.Thread(target=self._finish, args=(r, 0), daemon=True).start()
                return obj
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                return pod
            at = datetime.now(UTC) + timedelta(seconds=grace)
            meta["deletionTimestamp"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            meta["deletionGracePeriodSeconds"] = grace
            pod = store.replace("pods", ns, pod)
        threading.Thread(target=self._finish, args=(r, grace, True), daemon=True).start()
        return pod

    def _finish(self, r: PodRunner, grace: int, remove: bool = False) -> None:
        r.terminate(grace)
        if remove:
            with self.store.lock:
                cur = self.store.find("pods", r.ns, r.name)
                if cur is not None and cur["metadata"]["uid"] == r.uid:
                    self.store.delete("pods", r.ns, r.name)
        with self.lock:
            self.runners.pop(r.uid, None)
        shutil.rmtree(r.pod_dir, ignore_errors=True)

    def shutdown(self) -> None:
        with self.lock:
            runners = list(self.runners.values())
        for r in runners:
            r.stopping.set()
        threads = [threading.Thread(target=r.terminate, args=(0,), daemon=True) for r in runners]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        for t in threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
