"""Registry entries for the core protocol factories in gradtx.core (see tests/registry.py)."""

import jax

import gradtx
from tests.registry import Entry


def _sgd_step(updates, params=None):
    del params
    return jax.tree.map(lambda g: -0.1 * g, updates)


ENTRIES: list[Entry] = [
    Entry("identity", gradtx.identity, {}, descends=False, optax="identity"),
    Entry("set_to_zero", gradtx.set_to_zero, {}, descends=False, optax="set_to_zero"),
    Entry(
        "chain",
        lambda: gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(0.1)),
        {},
        is_optimizer=True,
        optax="chain",
    ),
    Entry(
        "named_chain",
        lambda: gradtx.named_chain(
            ("adam", gradtx.scale_by_adam()), ("lr", gradtx.scale_by_learning_rate(0.1))
        ),
        {},
        is_optimizer=True,
        optax="named_chain",
    ),
    Entry(
        "stateless", lambda: gradtx.stateless(_sgd_step), {}, is_optimizer=True, optax="stateless"
    ),
    Entry(
        "stateless_with_tree_map",
        lambda: gradtx.stateless_with_tree_map(lambda g, p: -0.1 * g),
        {},
        is_optimizer=True,
        optax="stateless_with_tree_map",
    ),
    Entry(
        "with_extra_args_support",
        lambda: gradtx.with_extra_args_support(gradtx.sgd(0.1)),
        {},
        is_optimizer=True,
        optax="with_extra_args_support",
    ),
]
