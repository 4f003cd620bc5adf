"""Helpers shared by the contrib modules (internal)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def stored(new: Any, old: Any) -> Any:
    """Each leaf of ``new`` cast to the dtype of the matching state leaf in ``old``."""
    return jax.tree.map(lambda n, o: n.astype(o.dtype), new, old)


def value(hyper: Any, count: jax.Array) -> Any:
    """A hyperparameter at ``count``: the schedule's value, or the constant itself."""
    return hyper(count) if callable(hyper) else hyper


def lowest_float_dtype(params: Any) -> Any:
    """The float dtype with the fewest bits among the leaves (float32 for an empty tree);
    Optax keeps the scalar state of its learning-rate-free methods in it."""
    dtypes = [jnp.result_type(x) for x in jax.tree.leaves(params)]
    floats = [d for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    if not floats:
        return jnp.dtype(dtypes[0]) if dtypes else jnp.dtype(jnp.float32)
    return min(floats, key=lambda d: jnp.finfo(d).bits)


def like(value: Any, x: Any) -> Any:
    """A hyperparameter or scalar in ``x``'s dtype (a Python number stays weakly typed)."""
    if isinstance(value, (int, float)):
        return value
    return jnp.asarray(value).astype(jnp.result_type(x))


def l1_norm(tree: Any, dtype: Any) -> jax.Array:
    """``sum_i sum |x_i|`` over all leaves, in ``dtype``."""
    total = jnp.zeros([], dtype)
    for x in jax.tree.leaves(tree):
        total = total + jnp.sum(jnp.abs(x)).astype(dtype)
    return total
