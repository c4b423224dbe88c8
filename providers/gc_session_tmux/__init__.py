"""providers/gc_session_tmux."""
