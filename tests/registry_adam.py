"""Registry entries for the Adam family: transforms and optimizers (see tests/registry.py)."""

import jax.numpy as jnp

import gradtx
from tests.registry import Entry

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
