"""The examples' READMEs say what the kit really reports for them."""

from __future__ import annotations

import re

from helpers import REPO
from test_conformance_minimal_provider import EXPECTED_SKIPS


def test_the_minimal_readme_names_exactly_the_checks_it_skips() -> None:
    text = (REPO / "examples" / "minimal-sh" / "README.md").read_text()
    paragraph = text.split("It SKIPs ", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`((?:RPP|GC-STRICT)-[A-Z-]+-\d{3}|ENV-[A-Z]+)`", paragraph))
    assert named == EXPECTED_SKIPS
    numbers = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 10: "ten"}
    assert paragraph.startswith(f"{numbers[len(EXPECTED_SKIPS)]} checks")


def test_the_kit_guide_results_line_counts_the_catalogue() -> None:
    """`gc-session-tmux` SKIPs nothing; the minimal provider exactly what it does not offer."""
    from protocol.conformance.runner import select

    total = sum(len(unit.specs) for unit in select())
    text = " ".join((REPO / "docs" / "conformance-kit.md").read_text().split())
    assert f"`gc-session-tmux` {total} passed, 0 failed, 0 skipped of {total}" in text
    assert f"minimal sh provider {total - len(EXPECTED_SKIPS)} passed, 0 failed, {len(EXPECTED_SKIPS)} skipped" in text
