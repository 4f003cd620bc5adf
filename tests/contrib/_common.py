"""Shared inputs of the contrib tests: a tree with matrices, a vector and a scalar."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def matrix_params(dtype=jnp.float32):
    """Two matrices (one wide, one tall), a vector and a scalar."""
    return {
        "w": jnp.linspace(-1.0, 1.0, 12, dtype=dtype).reshape(3, 4),
        "v": jnp.linspace(0.0, 1.0, 20, dtype=dtype).reshape(5, 4),
        "b": jnp.full((4,), 0.1, dtype),
        "s": jnp.asarray(0.5, dtype),
    }


def state_structure(state):
    """The tree structure (as text: Optax's classes are other classes of the same names)
    with each leaf's shape and dtype, comparable with ``==``."""
    return str(jax.tree.structure(state)), [
        (jnp.shape(x), jnp.result_type(x)) for x in jax.tree.leaves(state)
    ]


__all__ = ["matrix_params", "state_structure"]
