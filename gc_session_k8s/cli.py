"""`gc-session-k8s`: Gas City sessions as pods with tmux inside, one operation per process.

Every session operation is the local tmux provider's logic
(`providers.tmux.session`) run through `PodRunner`: exactly one
``kubectl`` process per hot operation, addressed by the pod's deterministic
name. Hot operations import only the standard library, `protocol` and the
shared session logic; `start`, `doctor` and friends import the rest inside
their handlers.
"""

from __future__ import annotations

from gc_session_k8s.naming import session_pod
from gc_session_k8s.pod_runner import PodRunner
from gc_session_k8s.settings import CITY, TABLE
from protocol import names
from protocol.dispatch import Call, Operation
from protocol.dispatch import main as dispatch_main
from protocol.errors import UsageError
from protocol.observe import observe_operations
from protocol.settings import help_section
from providers.kube import audit
from providers.kube.settings import KubeSettings
from providers.tmux import session
from providers.tmux.ops import VALIDATORS as SESSION_VALIDATORS
from providers.tmux.ops import session_operations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.locks import FileLock

EXE = "gc-session-k8s"
VERSION = "0.1.0"
#: Verified by tests/k8s and the conformance kit (see examples/k8s/README.md).
#: The helper this executable starts: the shared helper, handed our answerer.
HELPER_ENTRY = "gc_session_k8s.helper"
#: The env.* guarantees are added per call (`gc_session_k8s.env.env_capabilities`).
CAPABILITIES = ["report-activity", "report-attachment", "proc.exec", "proc.provision", "proc.stream"]


def settings(call: Call) -> KubeSettings:
    audit.set_operation(call.op)
    return KubeSettings.from_env(call.environ)


def pod(call: Call) -> str:
    return session_pod(call["name"], CITY.text(call.environ))


def runner(call: Call) -> PodRunner:
    from providers.kube.pod_exec import may_keep_answers

    return PodRunner(settings(call), pod(call), call["name"],
                     cached_reads=may_keep_answers(call.environ))


def nudge_lock(call: Call, r: PodRunner) -> FileLock:
    """Nudges are serialized on the controller, where every gc call comes from."""
    from protocol.locks import session_lock

    scope = f"{r.settings.context or 'current'}.{r.settings.namespace}"
    return session_lock("k8s", scope, r.pod, "nudge", 25.0)


def op_start(call: Call) -> None:
    from gc_session_k8s.start import run

    audit.set_operation(call.op)
    run(call)


def op_provision(call: Call) -> None:
    from gc_session_k8s.start import run

    audit.set_operation(call.op)
    run(call, agent=False)


def op_stop(call: Call) -> None:
    from gc_session_k8s.stop import stop

    stop(settings(call), pod(call), call["name"], call.environ)


def op_list_running(call: Call) -> str:
    from gc_session_k8s.listing import list_running

    return list_running(settings(call), CITY.text(call.environ), call["prefix"])


def op_attach(call: Call) -> None:
    from gc_session_k8s.naming import AGENT_CONTAINER
    from gc_session_k8s.pod_runner import guarded
    from protocol import proc
    from providers.kube.kubectl import exec_argv

    r = runner(call)
    argv = exec_argv(r.settings, r.pod, AGENT_CONTAINER,
                     guarded(["tmux", "-u", "attach-session", "-t", session.session(r)],
                             r.session), stdin=True, tty=True)
    proc.replace(argv)


def op_copy_to(call: Call) -> None:
    from gc_session_k8s.transfer import copy_to

    copy_to(settings(call), pod(call), call["name"], call["src"], call["rel_dst"])


def op_exec(call: Call) -> None:
    from gc_session_k8s.stream import tools_path
    from gc_session_k8s.transfer import exec_command

    command = call.stdin_bytes()
    if b"\0" in command:
        raise UsageError("exec: the command contains a NUL byte, which no shell can run")
    exec_command(settings(call), pod(call), call["name"], command,
                 tools=tools_path(call.environ))


def op_proc_stream(call: Call) -> None:
    from gc_session_k8s.stream import proc_stream, tools_path
    from providers.tmux.box import command

    cmd = command(call.stdin_bytes(), "proc-stream")
    proc_stream(settings(call), pod(call), call["name"], cmd, tools_path(call.environ))


def op_watch_startup(call: Call) -> None:
    from gc_session_k8s.stream import watch_startup

    r = runner(call)
    watch_startup(r.settings, r.pod, r.session, session.target(r))


def op_check_image(call: Call) -> None:
    from gc_session_k8s.pod.image import check_reference

    check_reference(call["image"])


def op_protocol(call: Call) -> str:
    from gc_session_k8s.env import env_capabilities
    from protocol.handshake import handshake

    return handshake(CAPABILITIES + env_capabilities(call.environ))


def op_manifest(call: Call) -> str:
    from gc_session_k8s.manifest_command import manifest

    return manifest(call.rest)


def op_doctor(call: Call) -> None:
    from gc_session_k8s.doctor import main

    main(call.rest)


def op_helper(call: Call) -> str:
    """``helper status|stop``: the resident per-user exec helper (GC_K8S_TRANSPORT=helper)."""
    import orjson

    from protocol.errors import ProviderError
    from providers.kube.transport.helper_client import control

    if call.rest in (["--help"], ["-h"]):
        return "usage: gc-session-k8s helper status|stop\n  the resident exec helper of this user"
    if call.rest not in (["status"], ["stop"]):
        raise ProviderError("usage: helper status|stop")
    state = control(call.rest[0], dict(call.environ))
    if state is None:
        return "helper: not running"
    return orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def helper_metrics() -> str | None:
    """The running helper's own registry (its streams, kept answers), for ``metrics``."""
    from providers.kube.transport.helper_client import metrics_text

    return metrics_text()


def op_sync(call: Call) -> None:
    from protocol.errors import ExitWith, ProviderError

    try:
        from gc_session_k8s.sync import command as sync
    except ImportError:
        raise ProviderError("sync is not available in this installation") from None
    code = sync.main(call.rest)
    if code:
        raise ExitWith(int(code))


OPERATIONS: dict[str, Operation] = {
    "start": Operation(op_start, stdin="start config JSON",
                       summary="create the pod and tmux session 'main'; 'already exists' if live"),
    "provision": Operation(op_provision, stdin="start config JSON",
                           summary="create and stage the pod without launching the agent"),
    "stop": Operation(op_stop, summary="delete the pod and wait until it is gone (idempotent)"),
    "attach": Operation(op_attach, summary="attach this terminal (kubectl exec -it)"),
    "list-running": Operation(op_list_running, ("prefix",),
                              summary="print running session names starting with prefix"),
    "copy-to": Operation(op_copy_to, ("name", "src", "rel_dst"),
                         summary="copy a file or directory into the pod work dir (tar over exec)"),
    "exec": Operation(op_exec, stdin="shell command",
                      summary="run a command in the pod (sh -c, work dir, merged output)"),
    "proc-stream": Operation(op_proc_stream, stdin="shell command",
                             summary="run a command in the pod over one exec, streaming its "
                                     "stdout and stderr"),
    "watch-startup": Operation(op_watch_startup,
                               summary="print a JSON screen snapshot per change (one exec) "
                                       "until cancelled"),
    "check-image": Operation(op_check_image, ("image",),
                             summary="validate an image reference (the cluster pulls it)"),
    "protocol": Operation(op_protocol, (), summary="print the RPP handshake JSON"),
    "manifest": Operation(op_manifest, human=True, stdin="start config JSON",
                          summary="print the pod a start would create [--yaml]; touches no cluster"),
    "doctor": Operation(op_doctor, (), human=True,
                        summary="check kubectl, context, namespace, RBAC and image [--json]"),
    "sync": Operation(op_sync, ("name", "?*option"), human=True,
                      summary="bring a session's work back: [--to DIR] [--branch NAME] [--dry-run] "
                              "(see sync --help)"),
    "helper": Operation(op_helper, ("?*action",), human=True,
                        summary="helper status|stop: the resident exec helper of this user"),
    **observe_operations("GC_K8S_AUDIT_LOG", helper_metrics),
    **session_operations(runner, nudge_lock),
}

VALIDATORS = {**SESSION_VALIDATORS, "image": names.not_empty("image reference")}

ABOUT = f"""\
Sessions as Kubernetes pods with tmux inside, driven by kubectl exec.
Gas City runs it as GC_SESSION=exec:gc-session-k8s.

{help_section(TABLE)}"""


def main() -> None:
    from providers.kube.transport.interface import start_helper_as

    start_helper_as(HELPER_ENTRY)

    dispatch_main(EXE, OPERATIONS, VALIDATORS, about=ABOUT, version=VERSION,
                  settings=TABLE, log_env="GC_K8S_AUDIT_LOG",
                  correlation=audit.correlation_id)
