"""Exec beads store cases (suite ``beads``); filled in below."""

from __future__ import annotations

from protocol.conformance.registry import Unit

UNITS: tuple[Unit, ...] = ()
