"""`gc-session-k8s manifest`: the same input prints the same bytes, as JSON or YAML, so two
dry runs can be diffed; the YAML reads back as exactly the JSON."""

from __future__ import annotations

import os
import subprocess

import orjson
import pytest
import yaml  # the Kubernetes client's own dependency
from helpers import executable
from hypothesis import given, settings
from hypothesis import strategies as st

from gc_session_k8s.manifest_command import to_yaml

CONFIG = orjson.dumps({"command": "claude --resume", "work_dir": "/workspace/rig",
                       "env": {"GC_AGENT": "mayor", "ODD": "a: b\n- c #d", "on": "yes"}})


def manifest(*args: str) -> bytes:
    env = {**os.environ, "GC_K8S_IMAGE": "example.test/agent:1", "GC_K8S_NAMESPACE": "gc"}
    done = subprocess.run([*executable("gc-session-k8s"), "manifest", "mayor", *args],
                          input=CONFIG, capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("form", [(), ("--yaml",)], ids=["json", "yaml"])
def test_two_dry_runs_print_the_same_bytes(form: tuple[str, ...]) -> None:
    assert manifest(*form) == manifest(*form)


def test_the_yaml_reads_back_as_the_json() -> None:
    assert yaml.safe_load(manifest("--yaml")) == orjson.loads(manifest())


def test_per_start_identity_is_left_out() -> None:
    metadata = orjson.loads(manifest())["metadata"]
    assert "gc-start-id" not in metadata["labels"]
    assert "gc-starter" not in metadata["annotations"]
    assert metadata["annotations"]["gc-session-name"] == "mayor"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300)
@given(JSON)
def test_any_json_value_reads_back_from_its_yaml_unchanged(value: object) -> None:
    assert yaml.safe_load(to_yaml(value)) == value
