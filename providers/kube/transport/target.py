"""`Target`: one cluster and user as the direct transport and the helper connect to them
(built from a kubeconfig by `providers.kube.transport.kubeconfig`)."""

from __future__ import annotations

from providers.kube.transport.interface import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Target:
    """Where to connect and how to authenticate (one cluster + user)."""

    __slots__ = ("ca_data", "ca_file", "cert_data", "cert_file", "cwd", "deps", "env", "exec_spec",
                 "host", "insecure", "key", "key_data", "key_file", "path_prefix", "port",
                 "secure", "server_name", "ssl_context", "token", "token_file")

    def __init__(self, *, host: str, port: int, secure: bool, key: str) -> None:
        self.host = host
        self.port = port
        self.secure = secure
        self.key = key
        self.path_prefix = ""
        self.server_name = host
        self.insecure = False
        self.ca_file = ""
        self.ca_data = ""
        self.cert_file = ""
        self.key_file = ""
        self.cert_data = b""
        self.key_data = b""
        self.token = ""
        self.token_file = ""
        self.exec_spec: dict[str, Any] | None = None
        self.ssl_context: Any = None  # built once by `providers.kube.transport.tls`
        self.env: dict[str, str] = {}  # the caller's environment (an exec plugin's base)
        self.cwd: str | None = None  # the caller's working directory (where a plugin runs)
        self.deps = ""  # the identity of the files the view names (`deps_identity`)

    def for_caller(self, key: str, env: dict[str, str], cwd: str | None) -> Target:
        """A copy of this target for one caller identity (``key``): what it keeps
        (TLS context, tokens, connections, streams) is its own from here on."""
        t = Target(host=self.host, port=self.port, secure=self.secure, key=key)
        for name in self.__slots__:
            if name != "key":
                setattr(t, name, getattr(self, name))
        t.env, t.cwd = env, cwd
        return t

    def bearer(self) -> str:
        """A static token (a tokenFile is re-read each time: it may be rotated)."""
        if self.token_file:
            try:
                with open(self.token_file, "rb") as f:
                    return f.read().decode().strip()
            except OSError as error:
                raise Fallback(f"tokenFile {self.token_file}: {error.strerror}") from None
        return self.token
