"""`gc-beads-k8s`: Gas City's exec beads store, served by ``bd`` in a runner pod.

One runner pod per city (``gc-beads-<city>-<hash>``) runs ``bd`` against the
city's Dolt server; every store operation is one ``kubectl exec`` of ``bd``
in the scope's work directory (`gc_beads_k8s.store`). Pod lifecycle uses the
``kubernetes`` client on cold paths only (`gc_beads_k8s.runner_pod`).
"""
