"""Gas City sessions in tmux: shared session logic plus the local provider."""
