"""Every check of the kit, in report order. Check IDs are stable and append-only.

ID scheme:

* ``CHECK-NN-…``  the 14 ``gc runtime check`` steps (suite ``check``), in upstream order.
* ``RPP-<GROUP>-NNN``  upstream's requirement codes (suite ``rpp``), unchanged.
* ``RT-<LIFECYCLE|SESSION>-<GoTestName>``  the 33 ``runtimetest.RunProviderTests``
  cases (suite ``runtimetest``): the Go name split at ``_`` and camel humps,
  upper-cased and joined by ``-`` (``Start_CreatesRunningSession`` →
  ``RT-LIFECYCLE-START-CREATES-RUNNING-SESSION``).
* ``GC-STRICT-<TOPIC>-NNN``  this kit's stricter checks (suite ``strict``).
* ``ENV-<GUARANTEE>``  the five ``env.*`` guarantees of ``gc runtime conformance --env``
  (suite ``env``; SKIP when not declared).
* ``BEADS-<GoTestName>``  the exec beads store cases (suite ``beads``, ``--beads``).
"""

from __future__ import annotations

from protocol.conformance.registry import Spec, Unit


def all_units() -> list[Unit]:
    from protocol.conformance.checks import beads, callers, hardening, rpp, runtimetest, streams, strict

    # The serial cold-start measurement stays last of the strict checks.
    return [
        rpp.CHECK_UNIT,
        *rpp.RPP_UNITS,
        streams.rpp_proc_stream,
        *runtimetest.UNITS,
        *(unit for unit in strict.UNITS if not unit.serial),
        streams.strict_stream_cancel,
        streams.strict_watch_startup,
        *hardening.UNITS,
        *callers.UNITS,
        streams.ENV_UNIT,
        *(unit for unit in strict.UNITS if unit.serial),
        *beads.UNITS,
    ]


def all_specs() -> list[Spec]:
    return [spec for unit in all_units() for spec in unit.specs]
