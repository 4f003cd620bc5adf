"""Registry entries for gradtx.optimizers (see tests/registry.py)."""

import jax
import jax.numpy as jnp

import gradtx
from tests.registry import Entry


def _not_vector(tree):
    """Mask function: true for every leaf that is not 1-D."""
    return jax.tree.map(lambda x: jnp.ndim(x) != 1, tree)


ENTRIES: list[Entry] = [
    # _sgd.py
    Entry("sgd", gradtx.sgd, {"learning_rate": 0.05}, is_optimizer=True, optax="sgd"),
    Entry(
        "sgd_nesterov",
        gradtx.sgd,
        {"learning_rate": 0.02, "momentum": 0.9, "nesterov": True, "accumulator_dtype": "f4"},
        is_optimizer=True,
        optax="sgd",
    ),
    Entry(
        "sign_sgd", gradtx.sign_sgd, {"learning_rate": 0.01}, is_optimizer=True, optax="sign_sgd"
    ),
    Entry(
        "noisy_sgd",
        gradtx.noisy_sgd,
        {"learning_rate": 0.05, "key": 0},
        is_optimizer=True,
        optax="noisy_sgd",
    ),
    # _adaptive.py
    Entry("adagrad", gradtx.adagrad, {"learning_rate": 0.5}, is_optimizer=True, optax="adagrad"),
    Entry("rmsprop", gradtx.rmsprop, {"learning_rate": 0.01}, is_optimizer=True, optax="rmsprop"),
    Entry(
        "rmsprop_centered_momentum",
        gradtx.rmsprop,
        {"learning_rate": 0.005, "centered": True, "eps": 1e-2, "momentum": 0.9},
        is_optimizer=True,
        optax="rmsprop",
    ),
    Entry(
        "adadelta",
        gradtx.adadelta,
        {"learning_rate": 0.5, "eps": 1e-3},
        is_optimizer=True,
        optax="adadelta",
    ),
    Entry(
        "adafactor",
        gradtx.adafactor,
        {"learning_rate": 0.05},
        is_optimizer=True,
        needs_params=True,
        optax="adafactor",
    ),
    Entry(
        "adafactor_factored_momentum",
        gradtx.adafactor,
        {
            "learning_rate": 0.05,
            "min_dim_size_to_factor": 2,
            "momentum": 0.5,
            "weight_decay_rate": 1e-3,
            "weight_decay_mask": _not_vector,
        },
        is_optimizer=True,
        needs_params=True,
        optax="adafactor",
    ),
    # _layerwise.py
    Entry(
        "lamb",
        gradtx.lamb,
        {"learning_rate": 0.05, "weight_decay": 1e-3, "mask": _not_vector},
        is_optimizer=True,
        needs_params=True,
        optax="lamb",
    ),
    Entry(
        "lars",
        gradtx.lars,
        {"learning_rate": 1.0},
        is_optimizer=True,
        needs_params=True,
        optax="lars",
    ),
    Entry(
        "lars_masked_nesterov",
        gradtx.lars,
        {
            "learning_rate": 0.1,
            "weight_decay": 1e-3,
            "trust_coefficient": 0.1,
            "weight_decay_mask": _not_vector,
            "trust_ratio_mask": _not_vector,
            "nesterov": True,
        },
        is_optimizer=True,
        needs_params=True,
        optax="lars",
    ),
]
