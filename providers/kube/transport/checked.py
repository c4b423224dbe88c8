"""The Kubernetes settings read as numbers or choices, checked at start-up (`protocol.settings_check`)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.settings_check import Setting


def checked_settings() -> dict[str, Setting]:
    """What gc-session-k8s and gc-beads-k8s both read: the transport, its helper, the Dolt port."""
    from protocol.settings_check import PORT, choice, millis, seconds

    return {
        "GC_K8S_TRANSPORT": choice("auto", "kubectl", "direct", "helper"),
        "GC_K8S_REQUEST_TIMEOUT": seconds(),
        "GC_K8S_HELPER_IDLE": seconds(),
        "GC_K8S_HELPER_CACHE_MS": millis(),
        "GC_K8S_HELPER_STREAMS": choice("1", "0"),
        "GC_K8S_DOLT_PORT": PORT,
    }
