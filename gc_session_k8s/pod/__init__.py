"""gc_session_k8s/pod."""
