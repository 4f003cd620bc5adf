"""Registry entries for ``gradtx.contrib`` (see tests/registry.py).

``scale_by_muon`` is not an entry: it is defined on matrices only (as in Optax) and the
contract's trees hold vectors and scalars; ``muon`` (which routes those to AdamW) is, and
tests/contrib/test_muon.py covers ``scale_by_muon`` on its own.
"""

import gradtx
from tests.registry import Entry

contrib = gradtx.contrib

ENTRIES: list[Entry] = [
    Entry(
        "contrib.muon", contrib.muon, {"learning_rate": 0.05}, needs_params=True, is_optimizer=True
    ),
]
