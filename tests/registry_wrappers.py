"""Registry entries for gradtx.wrappers (see tests/registry.py).

Each wrapper wraps a small inner transform; the ones whose update math depends on the
learning rate (lookahead) wrap a full optimizer and are marked ``is_optimizer``.
"""

import jax
import jax.numpy as jnp

import gradtx
from tests.helpers import not_vector
from tests.registry import Entry


def _labels(tree):
    return jax.tree.map(lambda x: "adam" if jnp.ndim(x) != 1 else "sign", tree)


def _multi_steps(**kwargs):
    return gradtx.MultiSteps(**kwargs).gradient_transformation()


def _fast():
    return gradtx.chain(gradtx.scale_by_adam(), gradtx.scale(-0.05))


ENTRIES: list[Entry] = [
    Entry(
        "MultiSteps",
        _multi_steps,
        {"opt": gradtx.scale_by_adam(), "every_k_schedule": 2},
        optax="MultiSteps",
    ),
    Entry(
        "MultiSteps_skip_not_finite",
        _multi_steps,
        {
            "opt": gradtx.scale_by_adam(),
            "every_k_schedule": lambda step: jnp.where(step < 2, 1, 2),
            "use_grad_mean": False,
            "should_skip_update_fn": gradtx.skip_not_finite,
        },
        optax="MultiSteps",
    ),
    Entry("apply_every", gradtx.apply_every, {"k": 2}, optax="apply_every"),
    Entry(
        "masked",
        gradtx.masked,
        {"inner": gradtx.scale_by_adam(), "mask": not_vector},
        optax="masked",
    ),
    Entry(
        "multi_transform",
        gradtx.multi_transform,
        {
            "transforms": {"adam": gradtx.scale_by_adam(), "sign": gradtx.scale_by_sign()},
            "param_labels": _labels,
        },
        optax="multi_transform",
    ),
    Entry("freeze", gradtx.freeze, {"mask": not_vector}, descends=False, optax="freeze"),
    Entry("flatten", gradtx.flatten, {"inner": gradtx.scale_by_adam()}, optax="flatten"),
    Entry(
        "apply_if_finite",
        gradtx.apply_if_finite,
        {"inner": gradtx.scale_by_adam(), "max_consecutive_errors": 2},
        optax="apply_if_finite",
    ),
    Entry(
        "lookahead",
        gradtx.lookahead,
        {"fast_optimizer": _fast(), "sync_period": 3, "slow_step_size": 0.5},
        needs_params=True,
        is_optimizer=True,
        optax="lookahead",
    ),
    Entry(
        "lookahead_reset_state",
        gradtx.lookahead,
        {"fast_optimizer": _fast(), "sync_period": 2, "slow_step_size": 0.5, "reset_state": True},
        needs_params=True,
        is_optimizer=True,
        optax="lookahead",
    ),
    Entry(
        "average_params",
        gradtx.average_params,
        {"inner": gradtx.scale_by_adam()},
        needs_params=True,
    ),
    Entry(
        "average_params_ema",
        gradtx.average_params,
        {"inner": gradtx.scale_by_adam(), "decay": 0.9},
        needs_params=True,
    ),
    Entry(
        "dynamic_loss_scale",
        gradtx.dynamic_loss_scale,
        {
            "inner": gradtx.scale_by_adam(),
            "init_scale": 4.0,
            "growth_interval": 2,
            "max_scale": 16.0,
        },
    ),
    Entry("training_monitor", gradtx.training_monitor, {"inner": gradtx.scale_by_adam()}),
    Entry("training_monitor_standalone", gradtx.training_monitor, {}),
    # Default blocks: every leaf of the contract's small trees stays unquantized.
    Entry("quantized_state", gradtx.quantized_state, {"inner": gradtx.scale_by_adam()}),
    # Blocks of 4: the matrices and vectors are stored in 8 bits, the scalars are not.
    Entry(
        "quantized_state_blocks_of_4",
        gradtx.quantized_state,
        {"inner": gradtx.scale_by_adam(), "block_size": 4},
    ),
    Entry(
        "quantized_state_momentum",
        gradtx.quantized_state,
        {"inner": gradtx.sgd(0.05, momentum=0.9), "block_size": 2},
        is_optimizer=True,
    ),
]
