"""Registry entries for the rest of Optax's top-level transforms and optimizers (issue 15):
Rprop, SM3, Fromage, Polyak, optimistic methods, Signum, DoG, block scalings, the
conditional wrappers, selective_transform and Optax's measurement transforms."""

import warnings

import jax.numpy as jnp

import gradtx
from tests.registry import Entry


def optimistic_adam(**kwargs):
    """`gradtx.optimistic_adam` without its (Optax's) DeprecationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return gradtx.optimistic_adam(**kwargs)


def _even(step):
    return step % 2 == 0


def _after_first(step):
    return step >= 1


ENTRIES: list[Entry] = [
    Entry("scale_by_rprop", gradtx.scale_by_rprop, {"learning_rate": 0.01}, optax="scale_by_rprop"),
    Entry(
        "scale_by_rprop_paper",
        gradtx.scale_by_rprop,
        {"learning_rate": 0.01, "lagged": False},
        optax="scale_by_rprop",
    ),
    Entry("rprop", gradtx.rprop, {"learning_rate": 0.01}, is_optimizer=True, optax="rprop"),
    Entry("scale_by_sm3", gradtx.scale_by_sm3, {}, optax="scale_by_sm3"),
    Entry("sm3", gradtx.sm3, {"learning_rate": 0.5}, is_optimizer=True, optax="sm3"),
    Entry(
        "fromage",
        gradtx.fromage,
        {"learning_rate": 0.05},
        needs_params=True,
        is_optimizer=True,
        optax="fromage",
    ),
    Entry(
        "fromage_schedule",
        gradtx.fromage,
        {"learning_rate": lambda count: 0.05 / (1.0 + 0.01 * count.astype(jnp.float32))},
        needs_params=True,
        is_optimizer=True,
        optax="fromage",
    ),
    Entry(
        "scale_by_polyak",
        gradtx.scale_by_polyak,
        {"max_learning_rate": 20.0},
        extra="value",
        optax="scale_by_polyak",
    ),
    Entry(
        "polyak_sgd",
        gradtx.polyak_sgd,
        {"max_learning_rate": 1.0, "variant": "sps+"},
        extra="value",
        is_optimizer=True,
        optax="polyak_sgd",
    ),
    Entry(
        "scale_by_optimistic_gradient",
        gradtx.scale_by_optimistic_gradient,
        {},
        optax="scale_by_optimistic_gradient",
    ),
    Entry(
        "optimistic_gradient_descent",
        gradtx.optimistic_gradient_descent,
        {"learning_rate": 0.02},
        is_optimizer=True,
        optax="optimistic_gradient_descent",
    ),
    Entry(
        "optimistic_adam",
        optimistic_adam,
        {"learning_rate": 0.05},
        is_optimizer=True,
        optax="optimistic_adam",
    ),
    Entry(
        "optimistic_adam_v2",
        gradtx.optimistic_adam_v2,
        {"learning_rate": 0.05},
        is_optimizer=True,
        optax="optimistic_adam_v2",
    ),
    Entry("signum", gradtx.signum, {"learning_rate": 0.01}, is_optimizer=True, optax="signum"),
    Entry(
        "scale_by_distance_over_gradients",
        gradtx.scale_by_distance_over_gradients,
        {"reps_rel": 1e-2, "global_scale": 20.0},  # the contract adds lr 0.05
        needs_params=True,
        optax="scale_by_distance_over_gradients",
    ),
    Entry(
        "normalize_by_update_norm",
        gradtx.normalize_by_update_norm,
        {},
        optax="normalize_by_update_norm",
    ),
    Entry(
        "scale_by_param_block_norm",
        gradtx.scale_by_param_block_norm,
        {},
        needs_params=True,
        optax="scale_by_param_block_norm",
    ),
    Entry(
        "scale_by_param_block_rms",
        gradtx.scale_by_param_block_rms,
        {},
        needs_params=True,
        optax="scale_by_param_block_rms",
    ),
    Entry(
        "conditionally_mask",
        gradtx.conditionally_mask,
        {"inner": gradtx.scale_by_adam(), "should_transform_fn": _even},
        optax="conditionally_mask",
    ),
    Entry(
        "conditionally_transform",
        gradtx.conditionally_transform,
        {"inner": gradtx.scale_by_adam(), "should_transform_fn": _after_first},
        optax="conditionally_transform",
    ),
    Entry(
        "selective_transform",
        gradtx.selective_transform,
        {"optimizer": gradtx.scale_by_adam(), "freeze_mask": False},
        optax="selective_transform",
    ),
    Entry(
        "snapshot",
        gradtx.snapshot,
        {"measure_name": "norm", "measure": gradtx.tree.l2_norm},
        descends=False,
        optax="snapshot",
    ),
    Entry(
        "monitor",
        gradtx.monitor,
        {
            "measures": {
                "norm": gradtx.tree.l2_norm,
                "norm_ema": gradtx.measure_with_ema(gradtx.tree.l2_norm, decay=0.9),
            }
        },
        descends=False,
        optax="monitor",
    ),
]
