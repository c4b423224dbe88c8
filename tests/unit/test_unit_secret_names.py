"""Which variable names the audit log redacts and the pod spec never takes by name."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from providers.kube.audit import is_secret_key, redact_arg


class Name(NamedTuple):
    key: str
    secret: bool


NAMES = {
    "a personal access token": Name("GITHUB_PAT", True),
    "a bare PAT": Name("PAT", True),
    "a password, short": Name("DB_PASS", True),
    "a DSN": Name("SENTRY_DSN", True),
    "an API key": Name("ANTHROPIC_API_KEY", True),
    "auth": Name("NPM_AUTH", True),
    "lower case": Name("github_pat", True),
    "a dotted name": Name("app.pass", True),
    "PATH is not a PAT": Name("PATH", False),
    "PASSTHROUGH is not a PASS": Name("PASSTHROUGH", False),
    "a Gas City path": Name("GC_PACK_STATE_DIR", False),
    "the work dir": Name("GC_DIR", False),
}


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_secret_names_are_recognised_by_word_or_by_whole_part(name: Name) -> None:
    assert is_secret_key(name.key) is name.secret
    assert (redact_arg(f"{name.key}=v") == f"{name.key}=***") is name.secret
