"""Registry entries for ``gradtx.experimental.aggregating`` (Optax's ``optax.experimental``).

Only the transforms of already aggregated gradients are entries: an `Aggregator`
(``average_per_element_updates``, ``get_per_element_mean_and_sum_sq_diff_grads``,
``add_mean_variance_to_opt`` ...) takes per-example gradients, leaves with a leading batch
axis the contract's parameter-shaped gradients do not have, and
``track_per_element_mean_and_variance_with_ema`` needs its aggregator's statistics as
extra arguments; ``tests/experimental/test_aggregating.py`` covers them against Optax.
"""

import gradtx
from gradtx.experimental import aggregating
from tests.registry import Entry

ENTRIES: list[Entry] = [
    Entry(
        "aggregating.accumulate_avg_updates",
        aggregating.accumulate_avg_updates,
        {"accumulation_steps": 2},
    ),
    Entry(
        "aggregating.average_incrementally_updates",
        aggregating.average_incrementally_updates,
        {"per_elt_axis": None, "accumulation_steps": 3},
    ),
    Entry(
        "aggregating.process",
        aggregating.process,
        {
            "preprocessor": gradtx.clip_by_global_norm(10.0),
            "aggregator": aggregating.accumulate_avg_updates(2),
            "postprocessor": gradtx.sgd(0.05, momentum=0.5),
        },
        is_optimizer=True,
    ),
]
