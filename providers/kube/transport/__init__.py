"""How an exec reaches the API server: the transports behind `providers.kube.pod_exec`.

`providers.kube.pod_exec` tries them in the order ``GC_K8S_TRANSPORT`` gives; each runs a
request or raises `Fallback` (nothing started) and the next one runs it:

* ``kubectl`` (`providers.kube.kubectl`): one kubectl process per exec, always available.
* ``direct`` (`direct`): this process speaks HTTPS + the WebSocket v5 exec protocol
  itself, with the kubeconfig resolved once through kubectl and cached (`kubeconfig`).
* ``helper`` (`helper_client`): the exec is handed over a unix socket to a resident
  per-user process (`helper`) that keeps the resolved config, TLS contexts, pre-opened
  connections and exec-plugin tokens in memory, and runs the per-tick ops through one
  resident exec stream per pod (`resident`).

Whatever the kubeconfig needs that direct cannot do (auth-provider, certificate-returning
or interactive exec plugins, impersonation, proxies, a server without v5 exec when stdin
must be closed) raises `Fallback` *before* any command could have started; the audit log
records why. Their one interface (the request, `Fallback`) is `interface`.
"""
