"""`start` and `provision`: create the pod atomically, stage, wait, launch tmux ``main``.

1. Build the manifest (data) and create it with the kubernetes client's
   ``create_namespaced_pod``: creation is atomic, so of N concurrent
   duplicate starts exactly one makes a pod. On 409 the existing pod is
   inspected: tmux ``main`` alive → "already exists"; younger than the grace
   window and still coming up → "already exists (initializing)"; otherwise
   stale → deleted and recreated.
2. Staging (one tar stream into the ``stage`` init container), then a watch
   until the pod is Ready, failing fast on image, config, eviction and
   scheduling problems (Unschedulable and quota → exit 75).
3. One exec waits for PID 1's "box ready" marker (pre_start done) and runs
   the shared `launch.new_session_args`; then the shared `launch.after_create`.

Any failure after creation, and SIGINT/SIGTERM, deletes the pod — only if it
still carries this start's id (a racing start may own the name by then).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace
from typing import Any

from gc_session_k8s import ledger, naming
from gc_session_k8s.pod import entrypoint, environment, staging
from gc_session_k8s.pod.manifest import pod_manifest
from gc_session_k8s.pod_runner import PodRunner
from gc_session_k8s.settings import Settings
from protocol import starts
from protocol.config import StartConfig, parse_start_config
from protocol.errors import ProviderError, TemporaryError
from protocol.rollback import Rollback
from providers.kube import audit
from providers.kube.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeTimeout,
    KubeUnavailable,
)
from providers.tmux import launch, session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from protocol.dispatch import Call

Obj = dict[str, Any]
START_ID_ANNOTATION = naming.START_ID_ANNOTATION
#: ``<host>/<pid>-<start time>-<nonce>`` of the start that created the pod (`protocol.starts`).
STARTER_ANNOTATION = "gc-starter"

# Waits for PID 1's box-ready marker, reports a failed pre_start, then runs
# tmux with the remaining arguments. $1 = polls allowed (0.1 s each). The session's
# env (secrets included) is in the tmux command file on stdin, never in any argv.
LAUNCH_SCRIPT = f"""\
n=$1; shift
while [ ! -f {entrypoint.BOX_READY} ]; do
  n=$((n - 1))
  if [ "$n" -le 0 ]; then echo "box not ready (pre_start still running)" >&2; exit 3; fi
  sleep 0.1
done
if [ -f {entrypoint.PRE_START_FAILED} ]; then
  read -r i rc < {entrypoint.PRE_START_FAILED}
  echo "pre_start[$i] failed with exit $rc" >&2; exit 4
fi
[ "$1" = launch ] || exit 0
shift
exec tmux -u "$@"
"""


class Plan:
    """What one start creates, computed before touching the cluster."""

    def __init__(self, name: str, cfg: StartConfig, settings: Settings) -> None:
        self.name = name
        self.cfg = cfg
        self.settings = settings
        city_path = cfg.env.get("GC_CITY", "")
        self.city_path = city_path
        self.city = naming.city_of(settings.city, city_path)
        self.pod = naming.session_pod(name, settings.city)
        self.host_work_dir = ""
        if settings.workdir_hostpath and cfg.work_dir and os.path.isabs(cfg.work_dir):
            self.host_work_dir = os.path.normpath(cfg.work_dir)
        self.work_dir = self.host_work_dir or environment.pod_work_dir(cfg.work_dir, city_path)
        self.env, self.secret_env = environment.project(cfg.env, cfg.work_dir, settings)
        # GC_K8S_LEDGER=1: the beads API on the controller's loopback, through the tunnel.
        self.ledger = ledger.Tunnel.plan(settings.environ, cfg.env.get(ledger.ENV, ""))
        if self.ledger is not None:
            where = self.secret_env if ledger.ENV in self.secret_env else self.env
            where[ledger.ENV] = self.ledger.pod_url
        if self.host_work_dir:
            self.env["GC_DIR"] = self.host_work_dir
        self.secret_env.setdefault("GC_INSTANCE_TOKEN", os.urandom(16).hex())
        # With a shared work dir, overlays and copy_files are staged on the host, as locally;
        # a prebaked image brings its own /workspace.
        self.staging = (not self.host_work_dir and not settings.prebaked
                        and staging.needs_staging(cfg, city_path, self.work_dir))
        self.start_id = os.urandom(8).hex()
        #: The created pod's uid, once the API server has answered the create.
        self.uid = ""
        agent = cfg.env.get("GC_ALIAS") or cfg.env.get("GC_AGENT") or "unknown"
        self.manifest = pod_manifest(pod=self.pod, name=name, agent=agent, city=self.city,
                                     settings=settings, work_dir=self.work_dir, env=self.env,
                                     pre_start=cfg.pre_start, staging=self.staging,
                                     host_work_dir=self.host_work_dir)
        self.manifest["metadata"]["annotations"][START_ID_ANNOTATION] = self.start_id
        self.manifest["metadata"]["annotations"][STARTER_ANNOTATION] = (
            f"{socket.gethostname()}/{starts.new_marker()}")
        # Also a label, so the rollback can delete exactly this start's pod with one kubectl
        # call (a label selector) instead of importing the Kubernetes client mid-cancel.
        self.manifest["metadata"]["labels"][START_ID_ANNOTATION] = self.start_id


def plan_from(call: Call) -> Plan:
    return Plan(call["name"], parse_start_config(call.stdin_bytes()), Settings.from_env())


# --- the cluster side ------------------------------------------------------


def _api(what: str, pod: str, fn: Callable[[], Any]) -> Any:
    """One audited client call."""
    started = time.monotonic()
    rc = 1
    try:
        result = fn()
        rc = 0
        return result
    finally:
        audit.record(["api", *what.split()], pod=pod, started=started, rc=rc)


def temporary_if_quota(error: KubeError) -> KubeError | TemporaryError:
    text = str(error).lower()
    if isinstance(error, KubeForbidden) and ("exceeded quota" in text or "quota" in text):
        return TemporaryError(f"cluster quota: {error}")
    return error


def age_seconds(pod: Obj) -> float:
    from datetime import UTC, datetime

    raw = str((pod.get("metadata") or {}).get("creationTimestamp") or "")
    try:
        created = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - created).total_seconds()


def tmux_state(r: PodRunner) -> str:
    """``absent``, ``dead`` (remain-on-exit corpse) or ``live``."""
    res = r.tmux(["list-panes", "-s", "-t", session.session(r), "-F", "#{pane_dead}"])
    if not res.ok:
        return "absent"
    return "live" if b"0" in res.out.split() else "dead"


def create(plan: Plan, deadline: float) -> None:
    from providers.kube import client
    from providers.kube.retry import backoff, pause_before

    settings = plan.settings.kube
    transient = 0
    for _ in range(3 + len(backoff())):
        try:
            made = _api("create pods", plan.pod, lambda: client.create_pod(plan.manifest, settings))
            plan.uid = str((made.get("metadata") or {}).get("uid") or "")
            return
        except KubeConflict:
            pass
        except KubeUnavailable as error:
            # 429/5xx: the pod may or may not exist. A create is safe to send again all
            # the same: a retry that meets a 409 finds our start id on the pod (or not).
            pause = pause_before(transient, deadline - 5)
            if pause is None:
                raise TemporaryError(f"create pod {plan.pod}: {error}") from None
            time.sleep(pause)
            transient += 1
            continue
        except KubeError as error:
            raise temporary_if_quota(error) from None
        existing = _api("get pods", plan.pod, lambda: client.find_pod(plan.pod, settings))
        if existing is None:
            continue
        meta = existing.get("metadata") or {}
        if (meta.get("annotations") or {}).get(START_ID_ANNOTATION) == plan.start_id:
            plan.uid = str(meta.get("uid") or "")
            return  # an earlier attempt of ours went through after all
        phase = str((existing.get("status") or {}).get("phase") or "")
        if meta.get("annotations", {}).get(naming.NAME_ANNOTATION, plan.name) != plan.name:
            raise ProviderError(f"pod {plan.pod} belongs to another session "
                                f"({meta['annotations'][naming.NAME_ANNOTATION]!r})")
        if not meta.get("deletionTimestamp"):
            state = tmux_state(PodRunner(settings, plan.pod, plan.name)) if phase == "Running" else "absent"
            if state == "live":
                raise ProviderError(f"session {plan.name!r} already exists (pod: {plan.pod})")
            young = age_seconds(existing) < plan.settings.init_grace_s
            if state == "absent" and phase in ("Pending", "Running") and young and not starter_gone(meta):
                raise ProviderError(f"session {plan.name!r} already exists (initializing; "
                                    f"pod: {plan.pod})")
            _api("delete pods", plan.pod,
                 lambda: client.delete_pod(plan.pod, grace_seconds=0, settings=settings))
        wait_gone(plan, max(1.0, min(30.0, deadline - time.monotonic())))
    raise ProviderError(f"session {plan.name!r} already exists (pod {plan.pod} keeps reappearing)")


def wait_gone(plan: Plan, seconds: float) -> None:
    from providers.kube import client

    _api("watch pods", plan.pod,
         lambda: client.wait_for_deletion(plan.pod, timeout=seconds, settings=plan.settings.kube))


def starter_gone(meta: Obj) -> bool:
    """Did the start that created this pod die on this host before launching the agent?

    A start SIGKILLed mid-way (gc's own timeout path) leaves a pod that is not yet running
    tmux; without this the next start would call it "initializing" for init_grace_s and
    refuse. A starter on another host, or still running here, is never second-guessed.
    """
    host, _, marker = str((meta.get("annotations") or {}).get(STARTER_ANNOTATION) or "").partition("/")
    return bool(marker) and host == socket.gethostname() and not starts.starter_alive(marker)


def delete_if_ours(plan: Plan, grace: float | None = None) -> None:
    """Rollback: delete the pod only if it is the one this start made.

    Once the create was answered, one DELETE by name with the pod's uid as a precondition
    and no grace (no agent gc knows of runs there yet), through the client the create built:
    it lands before start exits, so nothing that runs after the interrupted start (an
    is-running) still finds the pod. Otherwise
    (a signal during the create, or that request failing) one kubectl process selecting on
    the start-id label: it can never delete a pod another start made, and needs no
    Kubernetes client (a cancel can land in its import). After a signal (``grace``:
    `Rollback.grace_left`) it is waited for only while gc's 2 s before SIGKILL allow; a
    kubectl slower than that is left to finish the delete on its own, in its own process
    group, where that SIGKILL does not reach.
    """
    if plan.uid and (grace is None or grace > 0.2):
        from providers.kube import client

        try:
            _api("delete pods", plan.pod, lambda: client.delete_pod(
                plan.pod, grace_seconds=0, uid=plan.uid, settings=plan.settings.kube, timeout=grace))
            return
        except KubeError:
            pass  # not answered in time: the label delete below still removes it
    from providers.kube.kubectl import kubectl

    kubectl(["delete", "pods", "-l", f"{START_ID_ANNOTATION}={plan.start_id}", "--ignore-not-found",
             "--grace-period=1", "--wait=false"], settings=plan.settings.kube, pod=plan.pod,
            action=f"delete pod {plan.pod}", timeout=plan.settings.kube.request_timeout,
            detach_after=grace)


def check_pod(pod: Obj | None, name: str) -> None:
    """Raise for a pod that will never become Ready (or should be retried later)."""
    from providers.kube.pods import fatal_waiting

    if pod is None:
        raise ProviderError(f"pod {name} was deleted during start")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        raise ProviderError(f"pod {name} is being deleted")
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase in ("Failed", "Succeeded"):
        why = status.get("reason") or phase
        detail = status.get("message") or ""
        raise ProviderError(f"pod {name} {phase.lower()} during start: {why} {detail}".rstrip())
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
            raise TemporaryError(f"pod {name} unschedulable: {cond.get('message') or ''}".rstrip())
    waiting = fatal_waiting(pod)
    if waiting:
        raise ProviderError(f"pod {name}: {waiting}")
    for cs in [*(status.get("initContainerStatuses") or []),
               *(status.get("containerStatuses") or [])]:
        term = (cs.get("state") or {}).get("terminated")
        if term and (cs.get("name") != naming.STAGE_CONTAINER or term.get("exitCode")):
            raise ProviderError(f"pod {name}: container {cs.get('name')} exited "
                                f"({term.get('reason') or 'exit ' + str(term.get('exitCode'))})")


def stage_running(pod: Obj | None) -> bool:
    statuses = ((pod or {}).get("status") or {}).get("initContainerStatuses") or []
    return any(s.get("name") == naming.STAGE_CONTAINER and (s.get("state") or {}).get("running")
               for s in statuses)


def wait_for(plan: Plan, done: Callable[[Obj | None], bool], what: str, deadline: float) -> None:
    from providers.kube import client

    def check(pod: Obj | None) -> bool:
        if done(pod):
            return True
        check_pod(pod, plan.pod)
        return False

    left = deadline - time.monotonic()
    try:
        _api("watch pods", plan.pod, lambda: client.wait_for_pod(
            plan.pod, check, timeout=max(1.0, left), settings=plan.settings.kube, what=what))
    except KubeTimeout:
        from providers.kube.client import get_pod

        pod = get_pod(plan.pod, plan.settings.kube)
        phase = str((pod.get("status") or {}).get("phase") or "")
        if phase == "Pending":
            raise TemporaryError(f"pod {plan.pod} still Pending after {left:.0f}s "
                                 "(no capacity or image still pulling)") from None
        raise ProviderError(f"pod {plan.pod}: {what} not reached in time (phase {phase})") from None


def upload_staging(plan: Plan) -> None:
    from providers.kube.pod_exec import exec_in_pod

    data = staging.build(plan.cfg, city=plan.city_path, pod_work_dir=plan.work_dir,
                         persistent=bool(plan.settings.workspace_pvc))
    res = exec_in_pod(plan.pod, ["sh", "-c", staging.UNPACK_ONCE, "sh", environment.WORKSPACE],
                      container=naming.STAGE_CONTAINER, settings=plan.settings.kube, stdin=data,
                      timeout=60)
    if not res.ok:
        raise ProviderError(f"staging into pod {plan.pod}: {res.error_text() or res.rc}")


def branch_setup(plan: Plan, r: PodRunner) -> None:
    """Optional per-session branch (another module owns it; absent until it lands)."""
    if not plan.settings.session_branch:
        return
    try:
        from gc_session_k8s import branches
    except ImportError:
        launch.warn("GC_K8S_SESSION_BRANCH is set but gc_session_k8s.branches is not installed")
        return
    for step in branches.branch_setup_argv(plan.name):
        if isinstance(step, str):
            res = r.shell(step, cwd=plan.work_dir, timeout=60)
        else:
            res = r.shell('exec "$@"', [str(a) for a in step], cwd=plan.work_dir, timeout=60)
        if not res.ok:
            raise ProviderError(f"branch setup: {res.error_text() or f'exit {res.rc}'}")


def launch_args(plan: Plan) -> tuple[list[str], bytes | None]:
    """tmux argv for the launch and the command file (``new-session`` + options) for stdin.

    Every env value, secrets included, travels in the command file: the pod's tmux
    server keeps the argv of the client that started it, visible in ``ps``.
    """
    cfg = replace(plan.cfg, env={})  # the pod env is already projected; nothing to unset
    env = {**plan.secret_env, **plan.env}
    data = launch.new_session_script(cfg, naming.TMUX_SESSION, work_dir=plan.work_dir, env=env)
    return ["launch", *launch.FROM_STDIN], data


def run(call: Call, *, agent: bool = True) -> None:
    plan = plan_from(call)
    try:
        _run(call, plan, agent)
    finally:
        from providers.kube.transport.answers import mark

        mark(plan.settings.kube.namespace, plan.pod)  # the pod is new (or gone): nothing
        # a helper kept of it from before serves an is-running after this start


def _run(call: Call, plan: Plan, agent: bool) -> None:
    deadline = time.monotonic() + launch.start_budget()
    r = PodRunner(plan.settings.kube, plan.pod, plan.name)
    launch.check_env({**plan.secret_env, **plan.env})  # before the pod is created
    with Rollback() as rollback:
        # Registered before the create call: a signal during the request still cleans up.
        rollback.add("delete the new pod", lambda: delete_if_ours(plan, rollback.grace_left()))
        if plan.host_work_dir:
            from providers.tmux import overlay

            os.makedirs(plan.host_work_dir, exist_ok=True)
            overlay.stage(plan.cfg, plan.host_work_dir)
        create(plan, deadline)
        if plan.staging:
            wait_for(plan, stage_running, "stage container running", deadline)
            upload_staging(plan)
        from providers.kube.pods import pod_ready

        wait_for(plan, pod_ready, "Ready", deadline)
        if plan.ledger is not None:
            rollback.add("end the ledger tunnel", lambda: ledger.end(
                plan.settings.environ, plan.settings.kube, plan.pod, plan.name))
            ledger.open_tunnel(plan.settings.environ, plan.settings.kube, plan.pod, plan.name,
                               plan.start_id, plan.ledger,
                               timeout=max(5.0, min(ledger.READY_TIMEOUT,
                                                    deadline - time.monotonic())))
        polls = str(max(10, int((deadline - time.monotonic()) * 10)))
        if plan.settings.session_branch or not agent:
            # Wait for the box (pre_start) on its own; otherwise the launch exec waits.
            res = r.shell(LAUNCH_SCRIPT, [polls, "ready"], timeout=deadline - time.monotonic() + 5)
            if not res.ok:
                raise ProviderError(f"pod {plan.pod}: {res.error_text() or f'exit {res.rc}'}")
            branch_setup(plan, r)
        setup_env = {"GC_SESSION": plan.name}
        if agent:
            args, secrets = launch_args(plan)
            res = r.shell(LAUNCH_SCRIPT, [polls, *args], stdin=secrets,
                          timeout=deadline - time.monotonic() + 5)
            if res.rc in (3, 4):  # box never ready / pre_start failed
                raise ProviderError(f"pod {plan.pod}: {res.error_text()}")
            if not res.ok:
                if b"duplicate session" in res.err:
                    raise ProviderError(f"session {plan.name!r} already exists")
                raise ProviderError(f"creating tmux session in pod {plan.pod}: "
                                    f"{res.error_text() or f'exit {res.rc}'}")
            launch.after_create(r, plan.cfg, plan.name, deadline=deadline, setup_env=setup_env,
                                setup_cwd=plan.work_dir,
                                debounce=session.debounce_seconds(call.environ))
        else:
            launch.run_commands(r, "session_setup", plan.cfg.session_setup, setup_env,
                                plan.work_dir)
            if plan.cfg.session_setup_script:
                res = r.script_file(plan.cfg.session_setup_script, env=setup_env,
                                    cwd=plan.work_dir, timeout=launch.SETUP_TIMEOUT)
                if not res.ok:
                    launch.warn(f"session_setup_script: {res.error_text() or f'exit {res.rc}'}")
            launch.run_commands(r, "session_live", plan.cfg.session_live, setup_env,
                                plan.work_dir)
        from gc_session_k8s.env import check_in_pod

        why, warning = check_in_pod(r, call.environ)  # what the handshake declared holds here
        if why:
            raise ProviderError(f"pod {plan.pod}: {why}")
        if warning:
            launch.warn(warning)
        rollback.commit()
