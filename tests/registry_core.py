"""Registry entries for the core protocol factories in gradtx.core (see tests/registry.py)."""

import jax

import gradtx
from tests.registry import Entry


def _sgd_step(updates, params=None):
    del params
    return jax.tree.map(lambda g: -0.1 * g, updates)


ENTRIES: list[Entry] = [
    Entry("identity", gradtx.identity, {}, descends=False),
    Entry("set_to_zero", gradtx.set_to_zero, {}, descends=False),
    Entry(
        "chain",
        lambda: gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(0.1)),
        {},
        is_optimizer=True,
    ),
    Entry(
        "named_chain",
        lambda: gradtx.named_chain(
            ("adam", gradtx.scale_by_adam()), ("lr", gradtx.scale_by_learning_rate(0.1))
        ),
        {},
        is_optimizer=True,
    ),
    Entry("stateless", lambda: gradtx.stateless(_sgd_step), {}, is_optimizer=True),
    Entry(
        "stateless_with_tree_map",
        lambda: gradtx.stateless_with_tree_map(lambda g, p: -0.1 * g),
        {},
        is_optimizer=True,
    ),
    Entry(
        "with_extra_args_support",
        lambda: gradtx.with_extra_args_support(gradtx.sgd(0.1)),
        {},
        is_optimizer=True,
    ),
]
