"""Helpers shared by the contrib modules (internal).

The generic numerics (casts, weak scalars, dtypes of a tree) are in ``gradtx.core.numerics``
and ``gradtx.tree``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def value(hyper: Any, count: jax.Array) -> Any:
    """A hyperparameter at ``count``: the schedule's value, or the constant itself."""
    return hyper(count) if callable(hyper) else hyper


def l1_norm(tree: Any, dtype: Any) -> jax.Array:
    """``sum_i sum |x_i|`` over all leaves, in ``dtype``."""
    total = jnp.zeros([], dtype)
    for x in jax.tree.leaves(tree):
        total = total + jnp.sum(jnp.abs(x)).astype(dtype)
    return total
