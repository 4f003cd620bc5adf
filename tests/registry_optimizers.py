"""Registry entries for gradtx.optimizers (see tests/registry.py)."""

from tests.registry import Entry

ENTRIES: list[Entry] = []
