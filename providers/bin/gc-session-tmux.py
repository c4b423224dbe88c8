#!python
# gc-session-tmux, the program: `gc-session-tmux` beside this file is its launcher (any installer layout).
from providers.gc_session_tmux.cli import main

main()  # exits
