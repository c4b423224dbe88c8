"""Secret env: out of the pod spec and argv, and into the agent byte for byte.

The rule is `gc_session_k8s.pod.environment`'s: only known non-secret names
with credential-free values go into the spec; the rest travels on the launch
exec's stdin, keys and values both base64, so a trailing newline, a space in a
key or a value ending in ``;`` (tmux's command separator) arrive exactly.
"""

from __future__ import annotations

import base64

import orjson
from helpers import wait_for
from k8s_helpers import K8s

SECRETS = {
    "GITHUB_PAT": "ghp_s3cr3t-pat",
    "DATABASE_URL": "postgres://user:pw-s3cr3t@db:5432/app",
    "TRAILING_NEWLINE": "s3cr3t-line\n\n",
    "A KEY WITH SPACES": "s3cr3t spaced",
    "ENDS_IN_SEMICOLON": "s3cr3t;",
    "LEADING_DASH": "-e s3cr3t",
    "UNICODE": "s3cr3t-\u00e9\u2603",
}


def agent_env(k8s: K8s, name: str) -> dict[str, str]:
    """The agent process's own environment, read from the file it wrote with ``env -0``."""
    def written() -> bool:
        return k8s.run("exec", name, stdin="test -s /workspace/env0").rc == 0

    assert wait_for(written, 30)
    raw = base64.b64decode(k8s.ok("exec", name, stdin="base64 -w0 /workspace/env0"))
    pairs = (item.decode().partition("=") for item in raw.split(b"\0") if item)
    return {k: v for k, _eq, v in pairs}


def test_secret_env_reaches_the_agent_byte_for_byte_and_never_the_spec(k8s: K8s) -> None:
    name = k8s.name()
    cfg = {"command": "env -0 > /workspace/env0; exec sleep 300",
           "env": {**SECRETS, "GC_AGENT": "mayor"}}
    res = k8s.start(name, cfg)
    assert res.rc == 0, res.err
    pod = k8s.pod(name)
    assert pod is not None
    spec = orjson.dumps(pod).decode()
    audit = k8s.audit.read_text()
    for value in (*SECRETS.values(), "s3cr3t"):
        assert value not in spec and value not in audit
    assert {"name": "GC_AGENT", "value": "mayor"} in pod["spec"]["containers"][0]["env"]
    env = agent_env(k8s, name)
    assert {k: env.get(k) for k in SECRETS} == SECRETS
    assert env["GC_AGENT"] == "mayor"
