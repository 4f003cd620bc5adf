"""Registry entries for gradtx.wrappers (see tests/registry.py)."""

from tests.registry import Entry

ENTRIES: list[Entry] = []
