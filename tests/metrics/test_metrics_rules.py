"""examples/alerting: promtool accepts the rules, and its rule tests prove each alert fires on a
synthetic series (and stays quiet on a healthy one)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from metrics_helpers import debian_tool

ALERTING = Path(__file__).resolve().parents[2] / "examples" / "alerting"
RULES = ALERTING / "gc-providers.rules.yml"
RULE_TESTS = ALERTING / "gc-providers.rules.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([debian_tool("promtool"), *args], capture_output=True, text=True,
                          cwd=ALERTING, timeout=120, check=False)


def test_promtool_accepts_the_example_rules() -> None:
    res = promtool("check", "rules", RULES.name)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: 4 rules found" in res.stdout


def test_each_example_alert_fires_on_a_synthetic_series() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    proven = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert alerts == proven == {"GcProviderErrorRatioHigh", "GcProviderTickReadsSlow",
                                "GcProviderTransportFallbacks", "GcProviderHelperRestarts"}
    res = promtool("test", "rules", RULE_TESTS.name)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout
