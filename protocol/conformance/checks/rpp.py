"""Upstream's two checkers: ``gc runtime check`` (14 steps) and the RPP catalogue.

Same step names, order, PASS/FAIL/SKIP rules and requirement codes as
``internal/runtime/rppcheck`` and ``internal/runtime/runtimecontract``.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from protocol.conformance.caller import exact_bool, parse_rfc3339, split_list
from protocol.conformance.context import Handshake, Kit
from protocol.conformance.gojson import encode_start_config
from protocol.conformance.model import Result, Status, fail, optional, required, skip
from protocol.conformance.registry import Spec, Unit, single, verdict

KNOWN_CAPABILITIES = frozenset(
    {
        "report-attachment",
        "report-activity",
        "proc.exec",
        "proc.provision",
        "proc.stream",
        "tty.attach",
        "env.workspace",
        "env.tooling",
        "env.identity",
        "env.ledger",
        "env.transcripts",
        "remote.create",
        "remote.adopt",
        "remote.status",
        "remote.followup",
        "remote.transcript",
        "remote.cancel",
        "remote.close",
    }
)


def read_handshake(kit: Kit) -> Handshake:
    """Run ``protocol`` once, read it like gc (exit 2 / empty = version 0)."""
    result = kit.run("protocol")
    if result.not_implemented:
        return Handshake(result, 0, (), "")
    if not result.ok:
        return Handshake(result, 0, (), f"protocol: {result.error_text}")
    if result.output.strip() == "":
        return Handshake(result, 0, (), "")
    try:
        doc = orjson.loads(result.output)
    except orjson.JSONDecodeError as exc:
        return Handshake(result, 0, (), f"protocol: invalid JSON: {exc}")
    if not isinstance(doc, dict):
        return Handshake(result, 0, (), "protocol: handshake is not a JSON object")
    version = doc.get("version", 0)
    caps = doc.get("capabilities") or []
    if not isinstance(version, int) or isinstance(version, bool):
        return Handshake(result, 0, (), "protocol: version is not an integer")
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        return Handshake(result, 0, (), "protocol: capabilities is not a list of strings")
    if version < 0:
        return Handshake(result, version, (), f"protocol: negative version {version}")
    return Handshake(result, version, tuple(caps), "")


def handshake_detail(handshake: Handshake) -> str:
    if handshake.result.not_implemented:
        return "version 0 (protocol not implemented)"
    caps = list(handshake.capabilities)
    text = f"version {handshake.version}" + (f", capabilities {caps}" if caps else "")
    unknown = [c for c in caps if c not in KNOWN_CAPABILITIES]
    return text + (f"; unknown capabilities ignored: {unknown}" if unknown else "")


# --- gc runtime check ---------------------------------------------------------

CHECK_STEPS = (
    ("CHECK-01-PROTOCOL", "protocol handshake"),
    ("CHECK-02-START", "lifecycle: start"),
    ("CHECK-03-IS-RUNNING", "lifecycle: is-running after start"),
    ("CHECK-04-IS-ATTACHED", "optional: is-attached"),
    ("CHECK-05-LAST-ACTIVITY", "optional: get-last-activity"),
    ("CHECK-06-PROCESS-ALIVE", "optional: process-alive"),
    ("CHECK-07-NUDGE", "optional: nudge"),
    ("CHECK-08-METADATA", "optional: metadata round-trip"),
    ("CHECK-09-PEEK", "optional: peek"),
    ("CHECK-10-LIST-RUNNING", "optional: list-running"),
    ("CHECK-11-STOP", "lifecycle: stop"),
    ("CHECK-12-IS-RUNNING-AFTER-STOP", "lifecycle: is-running after stop"),
    ("CHECK-13-STOP-IDEMPOTENT", "lifecycle: stop idempotent"),
    ("CHECK-14-INTERRUPT", "optional: interrupt"),
)
CHECK_SPECS = tuple(Spec(code, "check", "check", title) for code, title in CHECK_STEPS)
_CAPABILITY_TITLES = {
    "CHECK-04-IS-ATTACHED": ("report-attachment", "capability report-attachment: is-attached"),
    "CHECK-05-LAST-ACTIVITY": ("report-activity", "capability report-activity: get-last-activity"),
}


def run_check_suite(kit: Kit) -> list[Result]:
    """The 14 ``gc runtime check`` steps, each depending on the one before."""
    handshake = kit.handshake or read_handshake(kit)
    name = kit.name("check")
    specs = {spec.code: spec for spec in CHECK_SPECS}
    results: list[Result] = []

    def record(code: str, body: Callable[[], str]) -> Result:
        spec = specs[code]
        if code in _CAPABILITY_TITLES and handshake.declares(_CAPABILITY_TITLES[code][0]):
            spec = spec._replace(title=_CAPABILITY_TITLES[code][1])
        result = verdict(spec, lambda _kit: body(), kit)
        results.append(result)
        return result

    def protocol_step() -> str:
        if handshake.error:
            raise fail(handshake.error)
        return handshake_detail(handshake)

    record("CHECK-01-PROTOCOL", protocol_step)

    def start_step() -> str:
        result = kit.start(name)
        if not result.ok:
            raise fail(result.describe())
        return f"session {name}"

    if record("CHECK-02-START", start_step).status is not Status.PASS:
        kit.stop(name)
        results.extend(spec.result(Status.SKIP, "skipped: start failed") for spec in CHECK_SPECS[2:])
        return results

    def is_running_step(want: str) -> Callable[[], str]:
        def step() -> str:
            result = kit.run("is-running", name)
            if not result.ok or result.output != want:
                raise fail(f"want exactly {want!r}: {result.describe()}")
            return ""

        return step

    def optional_step(op: str, *args: str, stdin: bytes | None = None) -> Callable[[], str]:
        def step() -> str:
            optional(kit.run(op, name, *args, stdin=stdin), op)
            return ""

        return step

    record("CHECK-03-IS-RUNNING", is_running_step("true"))

    def capability_step(op: str, capability: str, valid: Callable[[str], bool]) -> Callable[[], str]:
        def step() -> str:
            result = kit.run(op, name)
            declared = handshake.declares(capability)
            if result.not_implemented:
                if declared:
                    raise fail(f"{capability} declared but {op} exits 2")
                raise skip(f"{op} not implemented (exit 2)")
            if not result.ok:
                raise fail(result.describe())
            if not valid(result.output):
                raise fail(f"unexpected output {result.output!r}")
            return "" if declared else "implemented but not declared"

        return step

    record(
        "CHECK-04-IS-ATTACHED",
        capability_step("is-attached", "report-attachment", lambda o: exact_bool(o) is not None),
    )
    record(
        "CHECK-05-LAST-ACTIVITY",
        capability_step(
            "get-last-activity",
            "report-activity",
            lambda o: o == "" or parse_rfc3339(o) is not None,
        ),
    )

    def process_alive_step() -> str:
        result = kit.run("process-alive", name, stdin=b"sleep\n")
        optional(result, "process-alive")
        if exact_bool(result.output) is None:
            raise fail(f"want true or false, got {result.output!r}")
        return f"answered {result.output}"

    record("CHECK-06-PROCESS-ALIVE", process_alive_step)

    record("CHECK-07-NUDGE", optional_step("nudge", stdin=b"gc runtime check probe"))
    record("CHECK-08-METADATA", lambda: metadata_round_trip(kit, name))
    record("CHECK-09-PEEK", optional_step("peek", "10"))

    def list_step() -> str:
        result = kit.run("list-running", name)
        optional(result, "list-running")
        if name not in split_list(result.output):
            raise fail(f"{name} not listed in {result.output!r}")
        return ""

    record("CHECK-10-LIST-RUNNING", list_step)

    def stop_step() -> str:
        result = kit.stop(name)
        if not result.ok:
            raise fail(result.describe())
        return ""

    record("CHECK-11-STOP", stop_step)
    record("CHECK-12-IS-RUNNING-AFTER-STOP", is_running_step("false"))
    record("CHECK-13-STOP-IDEMPOTENT", stop_step)
    record("CHECK-14-INTERRUPT", optional_step("interrupt"))
    return results


def metadata_round_trip(kit: Kit, name: str) -> str:
    """set-meta / get-meta / remove-meta / get-meta, as rppcheck does."""
    result = kit.run("set-meta", name, "gc_rpp_check", stdin=b"rpp-check-value")
    if result.not_implemented:
        raise skip("set-meta not implemented (exit 2)")
    if not result.ok:
        raise fail(result.describe())
    got = kit.run("get-meta", name, "gc_rpp_check")
    if not got.ok or got.output != "rpp-check-value":
        raise fail(f"get-meta after set-meta: want 'rpp-check-value': {got.describe()}")
    removed = kit.run("remove-meta", name, "gc_rpp_check")
    if not removed.ok:
        raise fail(f"remove-meta: {removed.describe()}")
    after = kit.run("get-meta", name, "gc_rpp_check")
    if not after.ok or after.output != "":
        raise fail(f"get-meta after remove-meta: want empty: {after.describe()}")
    return ""


CHECK_UNIT = Unit(CHECK_SPECS, run_check_suite)


# --- gc runtime conformance (RPP catalogue) ------------------------------------


def _rpp(code: str, group: str, title: str) -> Spec:
    return Spec(code, "rpp", group, title)


PROTOCOL_001 = _rpp("RPP-PROTOCOL-001", "protocol", "well-formed handshake or absent")
LIFECYCLE_001 = _rpp("RPP-LIFECYCLE-001", "lifecycle", "start creates a session that is-running reports true")
LIFECYCLE_002 = _rpp("RPP-LIFECYCLE-002", "lifecycle", "start on an already-running session fails (exit 1)")
LIFECYCLE_003 = _rpp("RPP-LIFECYCLE-003", "lifecycle", "stop makes is-running false")
LIFECYCLE_004 = _rpp("RPP-LIFECYCLE-004", "lifecycle", "stop on a missing session succeeds")
LIFECYCLE_005 = _rpp("RPP-LIFECYCLE-005", "lifecycle", "is-running on a never-started session is false")
CONN_001 = _rpp("RPP-CONN-001", "connection", "exec runs a command in the box")
PROVISION_001 = _rpp(
    "RPP-PROVISION-001",
    "provision",
    "provision creates a reachable box WITHOUT launching the agent",
)


def expect_running(kit: Kit, name: str, want: str, after: str) -> None:
    """``is-running`` must exit 0 and answer ``want`` (surrounding space ignored)."""
    running = kit.run("is-running", name)
    if not running.ok or running.output.strip() != want:
        raise fail(f"is-running after {after}: {running.describe()}")


@single(PROTOCOL_001)
def rpp_protocol(kit: Kit) -> str:
    handshake = kit.handshake or read_handshake(kit)
    if handshake.error:
        raise fail(handshake.error)
    return handshake_detail(handshake)


@single(LIFECYCLE_001)
def rpp_start_running(kit: Kit) -> str:
    name = kit.name("rpp")
    with kit.started(name):
        expect_running(kit, name, "true", after="start")
    return ""


@single(LIFECYCLE_002)
def rpp_duplicate_start(kit: Kit) -> str:
    name = kit.name("rpp")
    with kit.started(name, what="first start"):
        second = kit.start(name)
        if second.ok:
            raise fail("second start of a running session exited 0")
        if second.not_implemented:
            raise fail("second start exited 2 (read as success)")
        return f"second start: {second.describe()}"


@single(LIFECYCLE_003)
def rpp_stop_not_running(kit: Kit) -> str:
    name = kit.name("rpp")
    with kit.started(name):
        required(kit.stop(name), "stop")
        expect_running(kit, name, "false", after="stop")
    return ""


@single(LIFECYCLE_004)
def rpp_stop_missing(kit: Kit) -> str:
    required(kit.stop(kit.name("rpp-never")), "stop of a never-started session")
    return ""


@single(LIFECYCLE_005)
def rpp_is_running_missing(kit: Kit) -> str:
    result = kit.run("is-running", kit.name("rpp-never"))
    required(result, "is-running of a never-started session")
    if result.output.strip() != "false":
        raise fail(f"want false: {result.describe()}")
    return ""


@single(CONN_001)
def rpp_exec(kit: Kit) -> str:
    name = kit.name("rpp")
    with kit.started(name):
        echo = kit.run("exec", name, stdin=b"echo GC_RPP_CONN_EXEC_OK")
        if echo.not_implemented:
            raise skip("exec not implemented (exit 2)")
        if not echo.ok or echo.output.strip() != "GC_RPP_CONN_EXEC_OK":
            raise fail(f"exec echo: {echo.describe()}")
        code = kit.run("exec", name, stdin=b"exit 7")
        if code.exit_code != 7:
            raise fail(f"exec 'exit 7' must exit 7: {code.describe()}")
    return ""


@single(PROVISION_001)
def rpp_provision(kit: Kit) -> str:
    name = kit.name("rpp")
    with kit.stopping(name):
        result = kit.run("provision", name, stdin=encode_start_config(kit.default_config()))
        if result.not_implemented:
            raise skip("provision not implemented (exit 2)")
        if not result.ok:
            raise fail(f"provision: {result.describe()}")
        running = kit.run("is-running", name)
        if running.output.strip() != "false":
            raise fail(f"is-running after provision must be false: {running.describe()}")
        echo = kit.run("exec", name, stdin=b"echo GC_RPP_PROVISION_OK")
        if echo.not_implemented:
            raise fail("provision requires exec, which exits 2")
        if not echo.ok or echo.output.strip() != "GC_RPP_PROVISION_OK":
            raise fail(f"exec into the provisioned box: {echo.describe()}")
    return ""


RPP_UNITS = (
    rpp_protocol,
    rpp_start_running,
    rpp_duplicate_start,
    rpp_stop_not_running,
    rpp_stop_missing,
    rpp_is_running_missing,
    rpp_exec,
    rpp_provision,
)
