"""A black-box conformance kit for Gas City exec session (and beads) providers.

Run it as ``gc-provider-conformance <exe>`` or as a pytest plugin
(``pytest --gc-provider=<exe>``). It calls the executable exactly as Gas
City's Go caller does (argv without a shell, Go-encoded stdin, process-group
cancellation, exit 2 = not implemented) and reports one verdict per check ID.
"""
