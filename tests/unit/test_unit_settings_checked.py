"""Every setting read as a number, flag or choice is checked once at start-up: exit 1 naming what is valid."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from helpers import executable
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import UsageError
from protocol.settings import Setting, check, table

PORT = Setting("GC_X", "a port", "port")
FLAG = Setting("GC_Y", "a flag", "flag")


def millis() -> Setting:
    return Setting("GC_X", "some milliseconds", "int", what="of milliseconds")


def seconds(*, zero_ok: bool = False) -> Setting:
    return Setting("GC_Y", "some seconds", "number", what="of seconds", inclusive=zero_ok)


def choice(*values: str) -> Setting:
    return Setting("GC_X", "a choice", "choice", choices=values)


def run(exe: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # No cluster and no tmux server is reached: the check comes before the operation.
    full = {**os.environ, "GC_TMUX_SOCKET": f"gc-settings-{uuid.uuid4().hex[:8]}", **env}
    return subprocess.run([*executable(exe), *args], capture_output=True, text=True, env=full,
                          timeout=60, check=False)


@pytest.mark.parametrize("exe", ["gc-session-k8s", "gc-beads-k8s"])
def test_an_unknown_transport_is_exit_1_naming_the_valid_ones(exe: str) -> None:
    res = run(exe, "list-running" if exe == "gc-session-k8s" else "list",
              env={"GC_K8S_TRANSPORT": "bogus"})
    assert res.returncode == 1, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "GC_K8S_TRANSPORT='bogus'" in res.stderr
    assert "one of auto, kubectl, direct, helper" in res.stderr


@pytest.mark.parametrize("exe", ["gc-session-tmux", "gc-session-k8s"])
def test_a_nudge_debounce_that_is_not_a_number_is_exit_1(exe: str) -> None:
    res = run(exe, "nudge", "s-settings", env={"GC_NUDGE_DEBOUNCE_MS": "abc"})
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"{exe} nudge: invalid GC_NUDGE_DEBOUNCE_MS='abc': want a whole number of milliseconds, 0 or more"]


def test_an_unknown_operation_is_still_exit_2_with_a_bad_setting() -> None:
    assert run("gc-session-tmux", "frobnicate", env={"GC_STOP_GRACE_MS": "soon"}).returncode == 2


def test_help_and_version_need_no_valid_settings() -> None:
    assert run("gc-session-tmux", "--help", env={"GC_STOP_GRACE_MS": "soon"}).returncode == 0


@pytest.mark.parametrize(("name", "raw", "valid"), [
    ("GC_START_TIMEOUT_S", "0", "above 0"),
    ("GC_START_TIMEOUT_S", "1e3", "(like 1.5)"),
    ("GC_PORTABLE", "yes", "one of 1, 0"),
])
def test_each_tmux_setting_names_what_is_valid(name: str, raw: str, valid: str) -> None:
    res = run("gc-session-tmux", "is-running", "s-settings", env={name: raw})
    assert res.returncode == 1 and valid in res.stderr and name in res.stderr


@pytest.mark.parametrize(("name", "raw"), [
    ("GC_K8S_REQUEST_TIMEOUT", "-1"), ("GC_K8S_HELPER_CACHE_MS", "1s"), ("GC_K8S_DOLT_PORT", "70000"),
    ("GC_K8S_MCP_MAIL_PORT", "mail"), ("GC_K8S_PREBAKED", "maybe"), ("GC_K8S_INIT_GRACE_S", "x"),
    ("GC_K8S_RUN_AS_USER", "root"), ("GC_K8S_HELPER_STREAMS", "off"),
])
def test_each_k8s_setting_is_checked(name: str, raw: str) -> None:
    res = run("gc-session-k8s", "is-running", "s-settings", env={name: raw})
    assert res.returncode == 1 and f"invalid {name}=" in res.stderr, res.stderr


def test_empty_means_unset() -> None:
    check({"GC_X": millis(), "GC_Y": FLAG}, {"GC_X": "", "GC_Y": ""})


@given(st.text(max_size=12))
def test_a_millis_setting_accepts_exactly_the_whole_numbers(raw: str) -> None:
    valid = raw.isascii() and raw.isdigit()
    try:
        check({"GC_X": millis()}, {"GC_X": raw})
    except UsageError as error:
        assert raw and not valid
        assert "\n" not in str(error)
    else:
        assert valid or raw == ""


@given(st.text(max_size=8))
def test_a_port_setting_never_raises_anything_but_usage(raw: str) -> None:
    try:
        check({"GC_X": PORT, "GC_Y": seconds()}, {"GC_X": raw, "GC_Y": raw})
    except UsageError:
        pass


@given(st.integers(min_value=-5, max_value=70000))
def test_a_port_is_1_to_65535(port: int) -> None:
    problem = PORT.problem(str(port))
    assert (problem == "") == (0 < port < 65536)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_seconds_accept_positive_decimals(value: float) -> None:
    raw = f"{value:.3f}"
    assert (seconds().problem(raw) == "") == (float(raw) > 0)
    assert seconds(zero_ok=True).problem(raw) == ""


def test_a_choice_is_exact() -> None:
    assert choice("auto", "kubectl").problem("Auto") == "one of auto, kubectl"


def test_a_runner_id_is_a_number_or_the_images_own() -> None:
    uid = Setting("GC_X", "a uid", "id", default="1000")
    assert [uid.problem(raw) == "" for raw in ("0", "1000", "image", "None", "root", "-1")] == [
        True, True, True, True, False, False]


def test_an_invalid_value_reads_as_the_default_outside_an_executable() -> None:
    # Each executable refuses it before any op (`check`); a library caller gets the default.
    row = Setting("GC_X", "seconds", "number", default="15", what="of seconds")
    assert row.number({"GC_X": "-1"}) == 15 and row.number({"GC_X": "2.5"}) == 2.5


def test_a_table_keeps_one_row_per_name_in_order() -> None:
    a, b = Setting("GC_A", "a"), Setting("GC_B", "b")
    assert list(table(a, (b, a.but(help="again")))) == ["GC_A", "GC_B"]
    assert table(a, a.but(help="again"))["GC_A"].help == "again"


@given(st.lists(st.floats(min_value=-5, max_value=40, allow_nan=False), min_size=1, max_size=4))
def test_retry_pauses_are_each_0_to_30_seconds(pauses: list[float]) -> None:
    from providers.kube.settings import RETRY_BACKOFF

    parts = [f"{p:.2f}" for p in pauses]
    valid = all(not part.startswith("-") and float(part) <= 30 for part in parts)  # "-0.00" too
    assert (RETRY_BACKOFF.problem(",".join(parts)) == "") == valid


def test_retry_pauses_that_are_not_numbers_are_exit_1() -> None:
    res = run("gc-session-k8s", "is-running", "s-settings", env={"GC_K8S_RETRY_BACKOFF": "0.1,soon"})
    assert res.returncode == 1 and "invalid GC_K8S_RETRY_BACKOFF='0.1,soon'" in res.stderr, res.stderr
    assert "comma-separated" in res.stderr
