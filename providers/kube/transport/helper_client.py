"""Placeholder: the helper client (filled in below)."""

from __future__ import annotations

from protocol.proc import Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.settings import KubeSettings


def exec_via_helper(settings: KubeSettings, pod: str, container: str, argv: list[str],
                    stdin: bytes | None, timeout: float | None, retry: bool) -> Result | None:
    return None
