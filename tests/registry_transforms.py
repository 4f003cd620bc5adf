"""Registry entries for gradtx.transforms (see tests/registry.py)."""


import gradtx
from tests.registry import Entry

ENTRIES: list[Entry] = [
    Entry("scale", gradtx.scale, {"step_size": -0.1}, is_optimizer=True),
    Entry(
        "scale_by_learning_rate",
        gradtx.scale_by_learning_rate,
        {"learning_rate": 0.1},
        is_optimizer=True,
    ),
    Entry(
        "scale_by_schedule",
        gradtx.scale_by_schedule,
        {"step_size_fn": lambda c: -0.1 / (1.0 + c)},
        is_optimizer=True,
    ),
    Entry("scale_by_sign", gradtx.scale_by_sign, {}),
    Entry(),
]
