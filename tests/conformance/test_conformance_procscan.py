"""procscan's argv watch: what GC-STRICT-SECRET-001 relies on to see a value on a command line."""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

from protocol.conformance import procscan

needs_proc = pytest.mark.skipif(not procscan.available(), reason="needs Linux /proc")


@needs_proc
def test_a_short_lived_process_with_the_value_in_its_argv_is_seen() -> None:
    needle = f"gcneedle{secrets.token_hex(8)}"
    with procscan.watching_argv(needle.encode()) as watch:
        subprocess.run(["sh", "-c", "sleep 0.3; :", "helper", needle], check=True)
    assert [p.cmdline for p in watch.seen.values()] == [f"sh -c sleep 0.3; : helper {needle}"]


@needs_proc
def test_the_value_in_a_process_environment_is_not_argv() -> None:
    needle = f"gcneedle{secrets.token_hex(8)}"
    with procscan.watching_argv(needle.encode()) as watch:
        subprocess.run(["sh", "-c", "sleep 0.3"], env={**os.environ, "MY_TOKEN": needle}, check=True)
    assert watch.seen == {}
    assert watch.scans > 0
