"""Registry entries for gradtx.schedules (see tests/registry.py)."""

from tests.registry import Entry

ENTRIES: list[Entry] = []
