"""Registry entries for the rest of Optax's top-level transforms and optimizers (issue 15):
Rprop, SM3, Fromage, Polyak, optimistic methods, Signum, DoG, block scalings, the
conditional wrappers, selective_transform and Optax's measurement transforms."""

import warnings

import jax
import jax.numpy as jnp

import gradtx
from tests.helpers import no_scalar_params, schedule
from tests.registry import Entry, Parity, with_parity


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


def _rank_promoting(lib, tx):
    """Optax's DoG multiplies by a (1,)-shaped step (rank promotion), which turns a scalar
    leaf's update into shape (1,): compared on matrices, Optax run with rank promotion on."""
    if lib is gradtx:
        return tx

    def update(updates, state, params=None):
        with jax.numpy_rank_promotion("allow"):
            return tx.update(updates, state, params)

    return lib.GradientTransformation(tx.init, update)


def _transforms(*cases, params=None, wrap=None):
    return tuple(Parity(kwargs, params=params, rtol=2e-6, wrap=wrap) for kwargs in cases)


def _optimizers(*cases, params=None):
    return tuple(Parity(kwargs, params=params, rtol=2e-6, atol=1e-7) for kwargs in cases)


ENTRIES = with_parity(
    ENTRIES,
    {
        "scale_by_rprop": _transforms(
            {"learning_rate": 0.01},
            {
                "learning_rate": 0.1,
                "eta_minus": 0.3,
                "eta_plus": 1.5,
                "min_step_size": 1e-3,
                "max_step_size": 0.4,
            },
        ),
        "scale_by_sm3": _transforms(
            {}, {"b1": 0.5, "b2": 0.95, "eps": 1e-4}, params=no_scalar_params
        ),
        "scale_by_optimistic_gradient": _transforms({}, {"alpha": 0.3, "beta": 1.7}),
        "scale_by_distance_over_gradients": _transforms(
            {},
            {"reps_rel": 1e-2, "eps": 1e-4, "global_scale": 3.0},
            params=no_scalar_params,
            wrap=_rank_promoting,
        ),
        "normalize_by_update_norm": _transforms({}, {"scale_factor": 0.3, "eps": 1e-2}),
        "scale_by_param_block_norm": _transforms({}, {"min_scale": 0.7}),
        "scale_by_param_block_rms": _transforms({}, {"min_scale": 0.7}),
        "rprop": _optimizers(
            {"learning_rate": 0.01},
            {"learning_rate": 0.05, "eta_minus": 0.2, "eta_plus": 1.4, "max_step_size": 0.3},
        ),
        "sm3": _optimizers(
            {"learning_rate": 0.1}, {"learning_rate": 0.3, "momentum": 0.5}, params=no_scalar_params
        ),
        "fromage": _optimizers(
            {"learning_rate": 0.1},
            {"learning_rate": 0.02, "min_norm": 0.5},
            {"learning_rate": schedule},
        ),
        "optimistic_gradient_descent": _optimizers(
            {"learning_rate": 0.1}, {"learning_rate": schedule, "alpha": 0.5, "beta": 2.0}
        ),
        "optimistic_adam": _optimizers(
            {"learning_rate": 0.1},
            {"learning_rate": 0.05, "optimism": 0.2, "b1": 0.8, "eps": 1e-4, "nesterov": False},
        ),
        "optimistic_adam_v2": _optimizers(
            {"learning_rate": 0.1},
            {"learning_rate": schedule, "alpha": 0.7, "beta": 0.4, "b2": 0.99, "eps_root": 1e-6},
        ),
        "signum": _optimizers({"learning_rate": 0.1}, {"learning_rate": schedule, "beta": 0.5}),
    },
)
