"""Registry entries for gradtx.second_order (see tests/registry.py)."""

from tests.registry import Entry

ENTRIES: list[Entry] = []
