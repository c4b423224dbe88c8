"""How an exec reaches the API server: the transport seam behind `providers.kube.kubectl.exec_in_pod`.

Three transports, chosen per call by ``GC_K8S_TRANSPORT`` (`route.exec_fast`):

* ``kubectl``: one kubectl process per exec, always available.
* ``direct``: this process speaks HTTPS + the WebSocket v5 exec protocol itself
  (`providers.kube.transport.direct`), with the kubeconfig resolved once through kubectl
  and cached (`providers.kube.transport.kubeconfig`). No kubectl start-up, no Go runtime.
* ``helper``: the op is handed over a unix socket to a resident per-user process that
  keeps the resolved config, TLS contexts, pre-opened connections and exec-plugin
  tokens in memory (`providers.kube.transport.helper`), and runs the per-tick ops through
  one resident exec stream per pod (`providers.kube.transport.resident`).
* ``auto`` (the default, `providers.kube.kubectl.DEFAULT_TRANSPORT`): helper when running
  or startable, else direct, else kubectl.

Whatever the kubeconfig needs that direct cannot do (auth-provider, certificate-returning
or interactive exec plugins, impersonation, proxies, a server without v5 exec when stdin
must be closed) raises `Fallback` *before* any command could have started; the caller then
runs kubectl and the audit log records why. Every module an executable loads imports only
the standard library (C modules `_socket`/`_ssl` rather than `socket`/`ssl`: those pull in `enum`,
`re`, `selectors`); JSON goes through `_json` (`jsonlite`), not `orjson`. The helper
daemon itself (`helper`) may use `socket` and `threading`: it starts once. The modules of
the quickest path (`gc_session_k8s.hot`: this one, `wire`, `rundir`, `jsonlite`) import
neither `os` nor `__future__`: that path starts Python without its site setup, which
would otherwise have loaded both.
"""


class Fallback(Exception):
    """This call cannot go this way; kubectl must run it. The command has not started."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KubectlOnly(Fallback):
    """A fallback decided from the kubeconfig itself (by the helper): direct would only
    reach the same verdict, so the call goes straight to kubectl."""
