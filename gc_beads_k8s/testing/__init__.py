"""Test doubles for the beads runner (a fake ``bd`` that runs inside the pod)."""
