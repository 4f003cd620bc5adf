"""Registry entries for gradtx.optimizers (see tests/registry.py)."""

import math

import jax
import jax.numpy as jnp

import gradtx
from tests.helpers import not_vector, schedule, tensor_params
from tests.registry import Entry, Parity, first_eager, with_parity

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
        "sign_sgd",
        gradtx.sign_sgd,
        {"learning_rate": 0.01},
        is_optimizer=True,
        optax="sign_sgd",
        bad=(("learning_rate", math.nan),),
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
            "weight_decay_mask": not_vector,
        },
        is_optimizer=True,
        needs_params=True,
        optax="adafactor",
    ),
    # _layerwise.py
    Entry(
        "lamb",
        gradtx.lamb,
        {"learning_rate": 0.05, "weight_decay": 1e-3, "mask": not_vector},
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
            "weight_decay_mask": not_vector,
            "trust_ratio_mask": not_vector,
            "nesterov": True,
        },
        is_optimizer=True,
        needs_params=True,
        optax="lars",
    ),
]


def _adaptive(cases, params=None):
    """adagrad ... adafactor: rtol 2e-6, the first case also eager."""
    return first_eager([Parity(kwargs, params=params, rtol=2e-6) for kwargs in cases])


ENTRIES = with_parity(
    ENTRIES,
    {
        "sgd": first_eager(
            [
                Parity({"learning_rate": 0.05}),
                Parity({"learning_rate": 0.02, "momentum": 0.9}),
                Parity({"learning_rate": schedule, "momentum": 0.8, "nesterov": True}),
                Parity({"learning_rate": 0.02, "momentum": 0.9, "accumulator_dtype": jnp.bfloat16}),
            ]
        ),
        "sign_sgd": first_eager(
            [Parity({"learning_rate": 0.01}), Parity({"learning_rate": schedule})]
        ),
        "noisy_sgd": first_eager(
            [
                Parity(lambda lib: {"learning_rate": 0.05, "key": jax.random.key(3)}),
                Parity({"learning_rate": schedule, "eta": 0.1, "gamma": 1.0, "key": 5}),
            ]
        ),
        "adagrad": _adaptive(
            [
                {"learning_rate": 0.1},
                {"learning_rate": schedule, "initial_accumulator_value": 0.5, "eps": 1e-4},
            ]
        ),
        "rmsprop": _adaptive(
            [
                {"learning_rate": 0.01},
                {
                    "learning_rate": schedule,
                    "decay": 0.8,
                    "eps": 1e-4,
                    "initial_scale": 0.2,
                    "eps_in_sqrt": False,
                    "momentum": 0.9,
                    "nesterov": True,
                },
                {"learning_rate": 0.01, "centered": True, "eps": 1e-2, "momentum": 0.5},
                {
                    "learning_rate": 0.01,
                    "centered": True,
                    "eps": 1e-3,
                    "initial_scale": 1.0,
                    "bias_correction": True,
                },
                {"learning_rate": 0.01, "decay": 0.99, "bias_correction": True},
            ]
        ),
        "adadelta": _adaptive(
            [
                {"learning_rate": 0.5},
                {
                    "learning_rate": schedule,
                    "rho": 0.7,
                    "eps": 1e-4,
                    "weight_decay": 0.01,
                    "weight_decay_mask": not_vector,
                },
            ]
        ),
        "adafactor": _adaptive(
            [
                {"learning_rate": 0.05},
                {},
                {
                    "learning_rate": schedule,
                    "min_dim_size_to_factor": 3,
                    "decay_rate": 0.6,
                    "decay_offset": 1,
                    "momentum": 0.9,
                    "weight_decay_rate": 1e-3,
                    "weight_decay_mask": not_vector,
                },
                {
                    "learning_rate": 0.05,
                    "min_dim_size_to_factor": 4,
                    "multiply_by_parameter_scale": False,
                    "clipping_threshold": None,
                    "momentum": 0.5,
                    "dtype_momentum": jnp.bfloat16,
                    "eps": 1e-20,
                },
                {"learning_rate": 0.05, "factored": False, "clipping_threshold": 0.5},
            ],
            params=tensor_params,
        ),
        "lamb": (
            Parity({"learning_rate": 0.01}, eager=True),
            Parity(
                {
                    "learning_rate": schedule,
                    "b1": 0.8,
                    "b2": 0.99,
                    "eps": 1e-4,
                    "eps_root": 1e-8,
                    "weight_decay": 0.01,
                    "mask": not_vector,
                }
            ),
            Parity(
                {
                    "learning_rate": 0.01,
                    "weight_decay": 0.1,
                    "mask": {"dense": True, "scalar": False},
                }
            ),
        ),
        "lars": (
            Parity({"learning_rate": 0.1}, eager=True),
            Parity(
                {
                    "learning_rate": schedule,
                    "weight_decay": 0.01,
                    "weight_decay_mask": not_vector,
                    "trust_coefficient": 0.01,
                    "eps": 1e-5,
                    "trust_ratio_mask": not_vector,
                    "momentum": 0.8,
                    "nesterov": True,
                }
            ),
            Parity(
                {
                    "learning_rate": 0.1,
                    "weight_decay": 0.1,
                    "weight_decay_mask": False,
                    "trust_ratio_mask": {"dense": {"w": True, "b": False}, "scalar": True},
                }
            ),
        ),
    },
)
