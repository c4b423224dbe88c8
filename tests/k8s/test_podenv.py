"""Env projection into the pod (session-protocol.md §4.4): the payload is the only authority."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from gc_session_k8s.pod.environment import is_plain, pod_work_dir, project
from gc_session_k8s.pod.manifest import pod_manifest
from gc_session_k8s.settings import Settings
from protocol.errors import ProviderError, UsageError

DOLT = ("GC_DOLT_HOST", "GC_DOLT_PORT", "BEADS_DOLT_SERVER_HOST", "BEADS_DOLT_SERVER_PORT")


def env_of(payload: dict[str, str], operator: dict[str, str] | None = None,
           work_dir: str = "") -> dict[str, str]:
    public, secret = project(payload, work_dir, Settings.from_env(operator or {}))
    return {**public, **secret}


def test_a_payload_port_alone_means_the_managed_alias() -> None:
    env = env_of({"GC_DOLT_PORT": "31364"})
    assert [env[k] for k in DOLT] == ["dolt.gc.svc.cluster.local", "3307"] * 2


def test_payload_host_and_port_win_over_operator_compat_env() -> None:
    env = env_of({"GC_DOLT_HOST": "custom-dolt.example.com", "GC_DOLT_PORT": "4406"},
                 {"GC_K8S_DOLT_HOST": "legacy", "GC_K8S_DOLT_PORT": "1"})
    assert [env[k] for k in DOLT] == ["custom-dolt.example.com", "4406"] * 2


def test_no_payload_target_means_no_dolt_vars_whatever_the_operator_sets() -> None:
    env = env_of({"GC_AGENT": "a"}, {"GC_K8S_DOLT_HOST": "x", "GC_K8S_DOLT_PORT": "1",
                                     "GC_DOLT_HOST": "y", "GC_DOLT_PORT": "2"})
    assert not set(DOLT) & set(env)


def test_a_host_without_port_is_an_error() -> None:
    with pytest.raises(UsageError, match="GC_DOLT_PORT"):
        env_of({"GC_DOLT_HOST": "db"})


def test_rig_paths_move_under_workspace_and_controller_vars_are_dropped() -> None:
    payload = {"GC_CITY": "/home/u/city", "GC_DIR": "/home/u/city/rig",
               "GC_STORE_ROOT": "/home/u/city/rig", "GC_BEADS": "exec:x", "GC_SESSION": "s",
               "GC_ALIAS": "", "GC_RIG_ROOT": "/elsewhere/rig"}
    env = env_of(payload, work_dir="/home/u/city/rig")
    assert env["GC_CITY"] == "/workspace"
    assert env["GC_DIR"] == "/workspace/rig"
    assert env["GC_STORE_ROOT"] == "/workspace/rig"
    assert env["GC_RIG_ROOT"] == "/elsewhere/rig"
    assert env["GC_TMUX_SESSION"] == "main"
    assert "GC_BEADS" not in env and "GC_SESSION" not in env and "GC_ALIAS" not in env
    assert pod_work_dir("/home/u/city/rig", "/home/u/city") == "/workspace/rig"
    assert pod_work_dir("/home/u/city", "/home/u/city") == "/workspace"
    assert pod_work_dir("/other", "/home/u/city") == "/workspace"


def test_secret_looking_vars_are_split_off_the_pod_spec() -> None:
    public, secret = project({"GC_DOLT_PASSWORD": "p", "API_KEY": "k", "GC_PLAIN": "v"}, "",
                             Settings.from_env({}))
    assert secret == {"API_KEY": "k", "GC_DOLT_PASSWORD": "p"}
    assert "GC_PLAIN" in public and not set(secret) & set(public)


class Var(NamedTuple):
    key: str
    value: str
    plain: bool  # may appear in the pod spec


SECRET_RULE = {
    "a personal access token by name": Var("GITHUB_PAT", "ghp_0123", False),
    "credentials in a URL value": Var("DATABASE_URL", "postgres://u:pw@db:5432/x", False),
    "credentials in a Gas City URL": Var("GC_DB_URL", "postgres://u:pw@db/x", False),
    "a token as a URL's user": Var("GC_REMOTE", "https://ghp_0123@github.com/o/r", False),
    "a PEM block": Var("GC_CA", "-----BEGIN PRIVATE KEY-----\nMII", False),
    "a Gas City secret word": Var("GC_INSTANCE_TOKEN", "t", False),
    "a short secret word as a part": Var("BEADS_DB_PASS", "p", False),
    "an unknown name, however harmless": Var("MY_SETTING", "v", False),
    "PATH is not Gas City's": Var("PATH", "/usr/bin", False),
    "a key with a space": Var("GC_A B", "v", False),
    "a key with a dash": Var("GC_A-B", "v", False),
    "a Gas City coordinate": Var("GC_AGENT", "mayor", True),
    "a URL without user info": Var("GC_UPSTREAM", "https://example.com/x@y", True),
    "a beads setting": Var("BEADS_PREFIX", "gc", True),
    "the locale": Var("LC_ALL", "C.UTF-8", True),
}


@pytest.mark.parametrize("var", SECRET_RULE.values(), ids=SECRET_RULE.keys())
def test_only_known_non_secret_vars_reach_the_pod_spec(var: Var) -> None:
    assert is_plain(var.key, var.value) is var.plain
    public, secret = project({var.key: var.value}, "", Settings.from_env({}))
    assert (var.key in public, var.key in secret) == (var.plain, not var.plain)
    assert (public | secret)[var.key] == var.value  # byte for byte, whichever way it goes


def test_the_manifest_refuses_a_secret_that_bypassed_the_projection() -> None:
    with pytest.raises(ProviderError, match="GITHUB_PAT"):
        pod_manifest(pod="p", name="n", agent="a", city="c",
                     settings=Settings.from_env({"GC_K8S_IMAGE": "img"}), work_dir="/workspace",
                     env={"GC_AGENT": "a", "GITHUB_PAT": "ghp_x"}, pre_start=(), staging=False)
