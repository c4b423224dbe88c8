"""Session providers: the shared tmux session logic and the local tmux provider.

`providers.tmux.session` holds every tmux operation once, written against a
`Runner`: a local process (`providers.gc_session_tmux.local_runner.LocalRunner`) or one
`kubectl exec` into a pod (`gc_session_k8s`). `providers.kube` is the narrow
seam around Kubernetes shared by the k8s packages.
"""
