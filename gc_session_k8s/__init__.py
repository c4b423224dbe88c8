"""`gc-session-k8s`: each Gas City session is a pod with tmux inside, driven by `kubectl exec`.

The session logic is the local tmux provider's (`providers.tmux.session` and
`providers.tmux.launch`), run through `gc_session_k8s.pod_runner.PodRunner`:
one ``kubectl exec`` per operation into a pod addressed by its deterministic
name. Hot operations import only the standard library and `protocol`.
"""
