"""Registry entries for the Adam family: transforms and optimizers (see tests/registry.py)."""

import jax.numpy as jnp

import gradtx
from tests.registry import Entry

ENTRIES: list[Entry] = [
    Entry("scale_by_adam", gradtx.scale_by_adam, {}),
    Entry(
        "scale_by_adam_nesterov",
        gradtx.scale_by_adam,
        {"nesterov": True, "mu_dtype": jnp.float32},
    ),
]
