"""pytest plugin of the conformance kit (placeholder until the kit lands)."""
