"""Registry entries for ``gradtx.contrib`` (see tests/registry.py).

``scale_by_muon`` is not an entry: it is defined on matrices only (as in Optax) and the
contract's trees hold vectors and scalars; ``muon`` (which routes those to AdamW) is, and
tests/contrib/test_muon.py covers ``scale_by_muon`` on its own.
"""

import gradtx
from tests.registry import Entry

contrib = gradtx.contrib


def _opt(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, is_optimizer=True, **more)


def _tx(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, **more)


ENTRIES: list[Entry] = [
    # muon
    _opt("muon", contrib.muon, {"learning_rate": 0.05}, needs_params=True),
    # schedule-free
    _opt(
        "schedule_free",
        contrib.schedule_free,
        {"base_optimizer": gradtx.sgd(0.1), "learning_rate": 0.1},
        needs_params=True,
    ),
    _opt("schedule_free_sgd", contrib.schedule_free_sgd, {"learning_rate": 0.1}, needs_params=True),
    _opt(
        "schedule_free_adamw",
        contrib.schedule_free_adamw,
        {"learning_rate": 0.05},
        needs_params=True,
    ),
]
