"""Registry entries for gradtx.second_order (see tests/registry.py).

The contract test passes the loss as ``value_fn=`` (``extra="value_fn"``); all three
transforms take Hessian-vector products of it at ``params``.
"""

from gradtx import second_order
from tests.registry import Entry

ENTRIES: list[Entry] = [
    Entry(
        "scale_by_newton_cg",
        second_order.scale_by_newton_cg,
        {},
        extra="value_fn",
        needs_params=True,
    ),
    Entry(
        "scale_by_trust_region",
        second_order.scale_by_trust_region,
        {},
        extra="value_fn",
        needs_params=True,
    ),
    Entry(
        "scale_by_saddle_free_newton",
        second_order.scale_by_saddle_free_newton,
        {},
        extra="value_fn",
        needs_params=True,
    ),
]
