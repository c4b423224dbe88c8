"""The shared contract of Gas City exec providers.

Dependency-light on purpose: this package imports the standard library (and
`orjson` in the cold `start`/`protocol` paths) and never a provider, typer,
kubernetes, libtmux or rich. Importing ``protocol`` itself imports nothing.
"""
