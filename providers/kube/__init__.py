"""The one seam between Gas City providers and Kubernetes.

Two doors, one error tree (`providers.kube.errors`):

* `providers.kube.kubectl` runs one ``kubectl`` process per call. It imports
  only the standard library and `protocol`, so hot operations (a store op, a
  session `send-keys`) pay ~0.1 s for kubectl and nothing for Python imports.
* `providers.kube.client` wraps the ``kubernetes`` Python client for cold
  paths (creating pods, watching for Ready, RBAC checks). The client costs
  0.5-1.2 s to import, so it is imported inside each function, never at
  module level.

Execs take one of three doors (`providers.kube.transport`, ``GC_K8S_TRANSPORT``):
kubectl, a direct HTTPS + WebSocket exec, or a resident per-user helper (by default the
fastest that works: ``auto``); the fast ones hand anything they cannot do back to kubectl.

Settings come from the environment: the rows of `providers.kube.settings` (namespace,
context, kubectl, request timeout, transport and its helper's), which each Kubernetes
executable's settings table takes, and the usual ``KUBECONFIG``.
"""
