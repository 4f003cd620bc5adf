"""Shared pieces of the wrapper tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gradtx
from tests.helpers import example_params, gradient_sequence, run_updates


def adam_chain(lib=gradtx, lr: float = 1e-2):
    """``chain(scale_by_adam(), scale(-lr))`` from either library."""
    return lib.chain(lib.scale_by_adam(), lib.scale(-lr))


def both(make):
    """``(make(gradtx), make(optax))``."""
    return make(gradtx), make(optax)


def grads_with_nans(params=None, steps: int = 30, bad=(3, 4, 10, 17), seed: int = 0):
    """A gradient sequence where the steps in ``bad`` hold a NaN (even) or an inf (odd)."""
    params = example_params() if params is None else params
    grads = gradient_sequence(params, steps, seed)
    for t in bad:
        value = jnp.nan if t % 2 == 0 else jnp.inf
        leaves, treedef = jax.tree.flatten(grads[t])
        leaves[0] = leaves[0].at[(0,) * leaves[0].ndim].set(value)  # one element of one leaf
        grads[t] = jax.tree.unflatten(treedef, leaves)
    return grads


def to_np(tree):
    return jax.tree.map(lambda x: np.asarray(x, np.float64), tree)


def run_optax(tx, params, grads, **kwargs):
    """``run_updates`` for an Optax transform, traced under standard dtype promotion
    (Optax itself does not run under the strict mode the gradtx tests use)."""
    with jax.numpy_dtype_promotion("standard"):
        return run_updates(tx, params, grads, **kwargs)
