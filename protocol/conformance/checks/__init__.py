"""The check suites: ``check`` and ``rpp`` (upstream's checkers), ``runtimetest``, ``strict``, ``beads``."""
