"""The 33 cases of upstream's ``runtimetest.RunProviderTests``, black-box.

Sessions are started with the exec factory's config (a temp ``work_dir`` and
no command, so the provider's default shell must work). Rules: the required
ops (``start``, ``stop``, ``is-running``) FAIL on exit 2; an optional op that
answers exit 2 SKIPs the case (Go would read it as success, which hides the
gap); a case whose precondition cannot be met SKIPs with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from functools import partial
from typing import TypeVar

from protocol.conformance.caller import reads_true, split_list
from protocol.conformance.context import Kit
from protocol.conformance.driver import OpResult
from protocol.conformance.gojson import StartConfig
from protocol.conformance.model import Result, Status, fail, optional, required, skip
from protocol.conformance.registry import Spec, Unit, UnitBody, single, verdict

T = TypeVar("T")


def rt_code(group: str, go_name: str) -> str:
    """``Start_CreatesRunningSession`` → ``RT-<GROUP>-START-CREATES-RUNNING-SESSION``."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+", go_name)
    return f"RT-{group}-" + "-".join(w.upper() for w in words)


def rt_spec(group: str, go_name: str) -> Spec:
    return Spec(rt_code(group, go_name), "runtimetest", f"runtimetest-{group.lower()}", go_name)


def factory_config(kit: Kit) -> StartConfig:
    """The exec conformance factory: ``{"work_dir": <temp dir>}``, no command."""
    return StartConfig(work_dir=str(kit.workdir("rt")))


def started(kit: Kit, *names: str, concurrently: bool = False) -> AbstractContextManager[None]:
    """``Kit.started`` with the factory's config, made afresh for each session."""
    return kit.started(*names, config=partial(factory_config, kit), concurrently=concurrently)


def start(kit: Kit, name: str) -> None:
    """Start a session whose stop is the subject of the case."""
    required(kit.start(name, factory_config(kit)), "start")


def stopped_session(kit: Kit) -> str:
    """The name of a session that was started and then stopped."""
    name = kit.name("rt")
    start(kit, name)
    required(kit.stop(name), "stop")
    return name


def parallel(items: Sequence[T], call: Callable[[T], OpResult]) -> list[OpResult]:
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return list(pool.map(call, items))


def running(kit: Kit, name: str) -> bool:
    result = required(kit.run("is-running", name), "is-running")
    return reads_true(result.output)


def listed(kit: Kit, prefix: str) -> list[str]:
    return split_list(optional(kit.run("list-running", prefix), "list-running").output)


LIFECYCLE_UNITS: list[Unit] = []


def lifecycle(go_name: str) -> Callable[[UnitBody], Unit]:
    def wrap(body: UnitBody) -> Unit:
        unit = single(rt_spec("LIFECYCLE", go_name))(body)
        LIFECYCLE_UNITS.append(unit)
        return unit

    return wrap


@lifecycle("Start_CreatesRunningSession")
def start_creates_running(kit: Kit) -> str:
    name = kit.name("rt")
    with started(kit, name):
        if not running(kit, name):
            raise fail("is-running is not true after start")
    return ""


@lifecycle("Start_DuplicateReturnsError")
def start_duplicate(kit: Kit) -> str:
    name = kit.name("rt")
    with started(kit, name):
        second = kit.start(name, factory_config(kit))
        if second.ok or second.not_implemented:
            raise fail(f"second start did not error: {second.describe()}")
        return second.describe()


@lifecycle("Start_ConcurrentDistinctSessions")
def start_concurrent(kit: Kit) -> str:
    names = [kit.name("rt") for _ in range(3)]
    with started(kit, *names, concurrently=True):
        down = [n for n in names if not running(kit, n)]
        if down:
            raise fail(f"not running after concurrent start: {down}")
    return ""


@lifecycle("Stop_MakesSessionNotRunning")
def stop_not_running(kit: Kit) -> str:
    name = stopped_session(kit)
    if running(kit, name):
        raise fail("is-running is still true after stop")
    return ""


@lifecycle("Stop_Idempotent_NotRunning")
def stop_never_started(kit: Kit) -> str:
    required(kit.stop(kit.name("rt-never-started")), "stop of a never-started session")
    return ""


@lifecycle("Stop_Idempotent_AlreadyStopped")
def stop_twice(kit: Kit) -> str:
    name = kit.name("rt")
    start(kit, name)
    required(kit.stop(name), "first stop")
    required(kit.stop(name), "second stop")
    return ""


@lifecycle("Stop_ConcurrentDistinctSessions")
def stop_concurrent(kit: Kit) -> str:
    names = [kit.name("rt") for _ in range(3)]
    with started(kit, *names):
        for result in parallel(names, kit.stop):
            required(result, "concurrent stop")
        still = [n for n in names if running(kit, n)]
        if still:
            raise fail(f"still running after concurrent stop: {still}")
    return ""


@lifecycle("Interrupt_ConcurrentDistinctSessions")
def interrupt_concurrent(kit: Kit) -> str:
    names = [kit.name("rt") for _ in range(3)]
    with started(kit, *names):
        for result in parallel(names, lambda n: kit.run("interrupt", n)):
            optional(result, "interrupt")
    return ""


@lifecycle("IsRunning_UnknownSession")
def is_running_unknown(kit: Kit) -> str:
    if running(kit, kit.name("rt-unknown-never-existed")):
        raise fail("is-running is true for a session that never existed")
    return ""


@lifecycle("IsRunning_ConcurrentDistinctSessions")
def is_running_concurrent(kit: Kit) -> str:
    names = [kit.name("rt") for _ in range(3)]
    with started(kit, *names):
        answers = parallel(names, lambda n: kit.run("is-running", n))
        bad = [r.describe() for r in answers if not (r.ok and reads_true(r.output))]
        if bad:
            raise fail("; ".join(bad))
    return ""


@lifecycle("ListRunning_FindsSessions")
def list_finds(kit: Kit) -> str:
    names = [kit.name("rt") for _ in range(2)]
    with started(kit, *names):
        found = listed(kit, "")
        missing = [n for n in names if n not in found]
        if missing:
            raise fail(f'list-running "" lacks {missing}')
    return ""


@lifecycle("ListRunning_PrefixFiltering")
def list_prefix(kit: Kit) -> str:
    first, second = kit.name("rt-alpha"), kit.name("rt-beta")
    with started(kit, first, second):
        found = listed(kit, first)
        if first not in found or second in found:
            raise fail(f"list-running {first}: {found}")
    return ""


@lifecycle("ListRunning_ExcludesStopped")
def list_excludes_stopped(kit: Kit) -> str:
    name = stopped_session(kit)
    if name in listed(kit, name):
        raise fail(f"{name} still listed after stop")
    return ""


@lifecycle("ListRunning_EmptyPrefix")
def list_empty_prefix(kit: Kit) -> str:
    name = kit.name("rt")
    with started(kit, name):
        if name not in listed(kit, ""):
            raise fail(f'list-running "" lacks {name}')
    return ""


@lifecycle("ListRunning_ConcurrentDistinctPrefixes")
def list_concurrent(kit: Kit) -> str:
    names = [kit.name("rt") for _ in range(3)]
    with started(kit, *names):
        answers = parallel(names, lambda n: kit.run("list-running", n))
        for name, result in zip(names, answers, strict=True):
            if name not in split_list(optional(result, "list-running").output):
                raise fail(f"list-running {name} lacks it")
    return ""


@lifecycle("ProcessAlive_EmptyNamesReturnsTrue")
def process_alive_empty(kit: Kit) -> str:
    return "the caller answers true without calling the provider"


@lifecycle("ProcessAlive_FalseAfterStop")
def process_alive_after_stop(kit: Kit) -> str:
    name = stopped_session(kit)
    result = kit.run("process-alive", name, stdin=b"some-process")
    if result.not_implemented:
        raise skip("process-alive not implemented (exit 2; newer gc reads that as alive)")
    if not result.ok or reads_true(result.output):
        raise fail(f"want false after stop: {result.describe()}")
    return ""


@lifecycle("ProcessAlive_ConcurrentDistinctSessions")
def process_alive_concurrent(kit: Kit) -> str:
    names = [kit.name("rt") for _ in range(3)]
    with started(kit, *names):
        pass  # process-alive with no names never reaches the provider
    return "sessions started; the caller answers empty names with true"


# --- SharedSession group --------------------------------------------------------

SESSION_CASES: list[tuple[Spec, Callable[[Kit, str], str]]] = []


def session_case(go_name: str) -> Callable[[Callable[[Kit, str], str]], Callable[[Kit, str], str]]:
    def wrap(body: Callable[[Kit, str], str]) -> Callable[[Kit, str], str]:
        SESSION_CASES.append((rt_spec("SESSION", go_name), body))
        return body

    return wrap


def set_meta(kit: Kit, name: str, key: str, value: str) -> None:
    optional(kit.run("set-meta", name, key, stdin=value.encode()), "set-meta")


def get_meta(kit: Kit, name: str, key: str) -> str:
    result = kit.run("get-meta", name, key)
    if result.not_implemented:
        raise fail("set-meta works but get-meta exits 2")
    if not result.ok:
        raise fail(f"get-meta: {result.describe()}")
    return result.output


@session_case("SetGetMeta_RoundTrip")
def meta_round_trip(kit: Kit, name: str) -> str:
    set_meta(kit, name, "test-key", "test-value")
    if (got := get_meta(kit, name, "test-key")) != "test-value":
        raise fail(f"get-meta test-key = {got!r}")
    return ""


@session_case("GetMeta_UnsetKey")
def meta_unset(kit: Kit, name: str) -> str:
    result = optional(kit.run("get-meta", name, "nonexistent-key"), "get-meta")
    if result.output != "":
        raise fail(f"want empty, got {result.output!r}")
    return ""


@session_case("RemoveMeta_ThenGetReturnsEmpty")
def meta_remove(kit: Kit, name: str) -> str:
    set_meta(kit, name, "remove-me", "gone-soon")
    removed = kit.run("remove-meta", name, "remove-me")
    if not removed.ok:
        raise fail(f"remove-meta: {removed.describe()}")
    if (got := get_meta(kit, name, "remove-me")) != "":
        raise fail(f"get-meta after remove-meta = {got!r}")
    return ""


@session_case("SetMeta_OverwritesPrevious")
def meta_overwrite(kit: Kit, name: str) -> str:
    set_meta(kit, name, "key", "v1")
    set_meta(kit, name, "key", "v2")
    if (got := get_meta(kit, name, "key")) != "v2":
        raise fail(f"get-meta key = {got!r}, want 'v2'")
    return ""


@session_case("Meta_MultipleKeys")
def meta_multiple(kit: Kit, name: str) -> str:
    set_meta(kit, name, "key1", "val1")
    set_meta(kit, name, "key2", "val2")
    got = (get_meta(kit, name, "key1"), get_meta(kit, name, "key2"))
    if got != ("val1", "val2"):
        raise fail(f"read back {got}")
    return ""


def op_case(go_name: str, op: str, *args: str, stdin: bytes | None = None, missing: bool = False) -> None:
    """A case that PASSes when ``op`` succeeds on the shared session (or, ``missing``, on none)."""

    def body(kit: Kit, name: str) -> str:
        target = kit.name("nonexistent") if missing else name
        optional(kit.run(op, target, *args, stdin=stdin), op)
        return ""

    session_case(go_name)(body)


op_case("Peek_NoError", "peek", "10")


@session_case("GetLastActivity_NoError")
def last_activity(kit: Kit, name: str) -> str:
    return optional(kit.run("get-last-activity", name), "get-last-activity").output


op_case("ClearScrollback_NoError", "clear-scrollback")
op_case("CopyTo_NoError", "copy-to", "/nonexistent-path-for-conformance", "")
op_case("SendKeys_RunningSession", "send-keys", "Enter")
op_case("SendKeys_MissingSession", "send-keys", "Enter", missing=True)
op_case("Interrupt_RunningSession", "interrupt")
op_case("Interrupt_MissingSession", "interrupt", missing=True)
op_case("Nudge_RunningSession", "nudge", stdin=b"hello")
op_case("Nudge_MissingSession", "nudge", stdin=b"hello", missing=True)


def bind(body: Callable[[Kit, str], str], name: str) -> UnitBody:
    def bound(kit: Kit) -> str:
        return body(kit, name)

    return bound


def run_shared_session(kit: Kit) -> list[Result]:
    """One started session for all SharedSession cases, as ``RunSessionTests``."""
    name = kit.name("rt-shared")
    with kit.stopping(name):
        result = kit.start(name, factory_config(kit))
        if not result.ok:
            why = f"skipped: shared session did not start ({result.describe()})"
            return [spec.result(Status.SKIP, why) for spec, _ in SESSION_CASES]
        return [verdict(spec, bind(body, name), kit) for spec, body in SESSION_CASES]


SHARED_SESSION_UNIT = Unit(tuple(spec for spec, _ in SESSION_CASES), run_shared_session)
UNITS = (*LIFECYCLE_UNITS, SHARED_SESSION_UNIT)
