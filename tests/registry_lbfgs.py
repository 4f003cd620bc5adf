"""Registry entries for the lbfgs family (see tests/registry.py)."""

from tests.registry import Entry

ENTRIES: list[Entry] = []
