"""Registry entries for the Adam family: transforms and optimizers (see tests/registry.py)."""

import jax
import jax.numpy as jnp

import gradtx
from tests.registry import Entry, Parity, with_parity

ENTRIES: list[Entry] = [
    # transforms
    Entry("scale_by_adam", gradtx.scale_by_adam, {}, optax="scale_by_adam"),
    Entry(
        "scale_by_adam_nesterov",
        gradtx.scale_by_adam,
        {"nesterov": True, "mu_dtype": jnp.float32},
        optax="scale_by_adam",
    ),
    Entry(
        "scale_by_adam_low_memory",
        gradtx.scale_by_adam,
        {"mu_dtype": jnp.bfloat16, "nu_dtype": jnp.bfloat16},
        optax="scale_by_adam",
    ),
    Entry("scale_by_amsgrad", gradtx.scale_by_amsgrad, {}, optax="scale_by_amsgrad"),
    Entry("scale_by_adamax", gradtx.scale_by_adamax, {}, optax="scale_by_adamax"),
    Entry("scale_by_belief", gradtx.scale_by_belief, {}, optax="scale_by_belief"),
    Entry("scale_by_lion", gradtx.scale_by_lion, {}, optax="scale_by_lion"),
    Entry("scale_by_radam", gradtx.scale_by_radam, {}, optax="scale_by_radam"),
    Entry("scale_by_yogi", gradtx.scale_by_yogi, {}, optax="scale_by_yogi"),
    Entry("scale_by_novograd", gradtx.scale_by_novograd, {}, optax="scale_by_novograd"),
    Entry(
        "scale_by_novograd_weight_decay",
        gradtx.scale_by_novograd,
        {"weight_decay": 1e-3},
        needs_params=True,
        optax="scale_by_novograd",
    ),
    Entry("scale_by_adan", gradtx.scale_by_adan, {}, optax="scale_by_adan"),
    # optimizers
    Entry("adam", gradtx.adam, {"learning_rate": 0.05}, is_optimizer=True, optax="adam"),
    Entry(
        "adamw",
        gradtx.adamw,
        {"learning_rate": 0.05, "weight_decay": 1e-3},
        needs_params=True,
        is_optimizer=True,
        optax="adamw",
    ),
    Entry("nadam", gradtx.nadam, {"learning_rate": 0.05}, is_optimizer=True, optax="nadam"),
    Entry(
        "nadamw",
        gradtx.nadamw,
        {"learning_rate": 0.05},
        needs_params=True,
        is_optimizer=True,
        optax="nadamw",
    ),
    Entry("adamax", gradtx.adamax, {"learning_rate": 0.05}, is_optimizer=True, optax="adamax"),
    Entry(
        "adamaxw",
        gradtx.adamaxw,
        {"learning_rate": 0.05},
        needs_params=True,
        is_optimizer=True,
        optax="adamaxw",
    ),
    Entry("amsgrad", gradtx.amsgrad, {"learning_rate": 0.05}, is_optimizer=True, optax="amsgrad"),
    Entry(
        "adabelief", gradtx.adabelief, {"learning_rate": 0.05}, is_optimizer=True, optax="adabelief"
    ),
    Entry(
        "lion",
        gradtx.lion,
        {"learning_rate": 0.01},
        needs_params=True,
        is_optimizer=True,
        optax="lion",
    ),
    Entry("radam", gradtx.radam, {"learning_rate": 0.05}, is_optimizer=True, optax="radam"),
    Entry("yogi", gradtx.yogi, {"learning_rate": 0.05}, is_optimizer=True, optax="yogi"),
    Entry(
        "adan",
        gradtx.adan,
        {"learning_rate": 0.05},
        needs_params=True,
        is_optimizer=True,
        optax="adan",
    ),
    Entry(
        "novograd", gradtx.novograd, {"learning_rate": 0.05}, is_optimizer=True, optax="novograd"
    ),
]


def _schedule(count):
    """A decaying learning rate (written so it also runs under strict promotion)."""
    return 0.02 / (1.0 + 0.1 * count.astype(jnp.float32))


_TREE_MASK = {"dense": {"w": True, "b": False}, "scalar": False}


def _matrix_mask(params):
    return jax.tree.map(lambda p: jnp.ndim(p) > 1, params)


def _transform(**kwargs):
    """A transform's case: 30 steps from gradient seed 0."""
    return Parity(kwargs, seed=0)


def _optimizer(**kwargs):
    """An optimizer's case: 30 steps from gradient seed 11."""
    return Parity(kwargs, seed=11, atol=1e-9)


# Non-default hyperparameters for every transform and every optimizer.
ENTRIES = with_parity(
    ENTRIES,
    {
        "scale_by_adam": (
            _transform(b1=0.8, b2=0.95, eps=1e-6, eps_root=1e-9, nesterov=True),
            _transform(mu_dtype=jnp.float32, eps_root=1e-9),
        ),
        "scale_by_amsgrad": (
            _transform(b1=0.8, b2=0.95, eps_root=1e-9, mu_dtype=jnp.float32),
            _transform(bias_correction_mu=False, bias_correction_nu=False),
        ),
        "scale_by_adamax": (_transform(b1=0.8, b2=0.9, eps=1e-6),),
        "scale_by_belief": (_transform(b1=0.8, b2=0.95, eps=1e-8, eps_root=1e-10, nesterov=True),),
        "scale_by_radam": (
            _transform(b1=0.8, b2=0.9, eps=1e-6, eps_root=1e-9, threshold=4.5),
            _transform(nesterov=True),
        ),
        "scale_by_yogi": (
            _transform(b1=0.8, b2=0.95, eps=1e-4, eps_root=1e-9, initial_accumulator_value=1e-3),
        ),
        "scale_by_lion": (
            _transform(b1=0.8, b2=0.95, mu_dtype=jnp.float32),
            _transform(mode="smooth", smooth_beta=2.0),
            _transform(mode="refined"),
        ),
        "scale_by_novograd": (
            _transform(b1=0.8, b2=0.5, eps=1e-6, eps_root=1e-9, weight_decay=0.01),
        ),
        "scale_by_adan": (_transform(b1=0.9, b2=0.8, b3=0.95, eps=1e-6, eps_root=1e-9),),
        "adam": (
            _optimizer(learning_rate=_schedule, b1=0.8, b2=0.95, eps=1e-6),
            _optimizer(learning_rate=0.01, eps_root=1e-9, nesterov=True),
        ),
        "nadam": (_optimizer(learning_rate=0.01, b1=0.8, b2=0.95),),
        "adamw": (
            _optimizer(learning_rate=0.01, b2=0.95, weight_decay=0.05, mask=_TREE_MASK),
            _optimizer(learning_rate=_schedule, weight_decay=0.1, mask=_matrix_mask, nesterov=True),
        ),
        "nadamw": (_optimizer(learning_rate=0.01, weight_decay=0.1, mask=_matrix_mask, b1=0.8),),
        "adamax": (_optimizer(learning_rate=0.02, b1=0.8, b2=0.95, eps=1e-6),),
        "adamaxw": (_optimizer(learning_rate=_schedule, weight_decay=0.1, mask=_TREE_MASK),),
        "amsgrad": (_optimizer(learning_rate=0.01, b1=0.8, bias_correction_nu=False),),
        "adabelief": (
            _optimizer(learning_rate=_schedule, b1=0.8, eps=1e-10, eps_root=1e-12, nesterov=True),
        ),
        "lion": (
            _optimizer(learning_rate=0.003, b1=0.8, b2=0.95, mask=_TREE_MASK),
            _optimizer(learning_rate=_schedule, weight_decay=0.1, mask=_matrix_mask),
        ),
        "radam": (
            _optimizer(learning_rate=0.01, b2=0.95, eps_root=1e-9, threshold=4.5, nesterov=True),
        ),
        "yogi": (_optimizer(learning_rate=_schedule, b1=0.8, b2=0.95, eps=1e-4),),
        "adan": (
            _optimizer(
                learning_rate=0.01, b1=0.9, b2=0.8, b3=0.95, weight_decay=0.01, mask=_matrix_mask
            ),
        ),
        "novograd": (
            _optimizer(learning_rate=_schedule, b1=0.8, b2=0.5, eps=1e-7, weight_decay=0.01),
        ),
    },
)
