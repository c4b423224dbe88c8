#!python
# gc-beads-k8s, the program: `gc-beads-k8s` beside this file is its launcher (any installer layout).
import sys

from gc_beads_k8s.cli import main

sys.exit(main())
