"""The Kubernetes settings read as numbers or choices, checked at start-up (`protocol.settings_check`)."""

from __future__ import annotations

from protocol.settings_check import Setting

#: ``host:port`` on loopback: the helper serves its metrics registry there at ``/metrics``.
METRICS_ADDR = "GC_K8S_METRICS_ADDR"


def loopback_addr(raw: str) -> tuple[str, int]:
    """``raw`` (``127.0.0.1:PORT``, ``[::1]:PORT``, ``localhost:PORT``) as (host, port);
    ValueError, in one line, for anything not on loopback."""
    host, _, port = raw.rpartition(":")
    host = host[1:-1] if host[:1] == "[" and host[-1:] == "]" else host
    quad = host.split(".")
    loop = host in ("localhost", "::1") or (
        len(quad) == 4 and quad[0] == "127"
        and all(p.isascii() and p.isdigit() and int(p) < 256 for p in quad))
    if not loop:
        raise ValueError(f"{METRICS_ADDR}={raw!r}: the metrics listener binds loopback only "
                         "(127.0.0.1:PORT, [::1]:PORT or localhost:PORT)")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{METRICS_ADDR}={raw!r}: the port must be a number from 1 to 65535")
    return ("127.0.0.1" if host == "localhost" else host), int(port)


class LoopbackAddress(Setting):
    """A ``host:port`` on loopback (`loopback_addr`): never a listener others can reach."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("loopback")

    def problem(self, raw: str) -> str:
        try:
            loopback_addr(raw)
        except ValueError:
            return "a loopback address: 127.0.0.1:PORT, [::1]:PORT or localhost:PORT"
        return ""


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
        METRICS_ADDR: LoopbackAddress(),
    }
