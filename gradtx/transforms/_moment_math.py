"""Moment arithmetic shared by the Adam family (``_adam_family``, ``_adam_variants``).

Private helpers: dtype choice for the arithmetic (half precision computed in float32),
the Adam ratio, the storage of a second moment and the debiased first moment. The generic
numerics (weakly typed hyperparameters, casts back to the state's dtypes) are in
``gradtx.core.numerics`` and ``gradtx.tree``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics


def _wide(tree: Any) -> Any:
    """Half-precision float leaves (float16, bfloat16, float8) in float32; others as they are.

    The Adam family runs its arithmetic on these: in float16, ``eps = 1e-8`` and
    ``(1 - b2) g**2`` for small ``g`` round to 0. Callers cast the update back to the
    gradient's dtype and the moments to their storage dtype.
    """
    return jax.tree.map(_wide_leaf, tree)


def _wide_leaf(x: jax.Array) -> jax.Array:
    dtype = jnp.result_type(x)
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits < 32:
        return x.astype(jnp.float32)
    return x


def _adam_ratio(m: jax.Array, v: jax.Array, eps: Any, eps_root: Any) -> jax.Array:
    """``m / (sqrt(v + eps_root) + eps)`` in the common dtype of all four operands."""
    dtype = numerics.weak_common_dtype(m, v, eps, eps_root)
    m, v = m.astype(dtype), v.astype(dtype)
    return m / (jnp.sqrt(v + numerics.as_dtype(eps_root, dtype)) + numerics.as_dtype(eps, dtype))


def _widen(moments: Any, updates: Any) -> Any:
    """Moments stored narrower than the gradients (``mu_dtype``/``nu_dtype`` bfloat16)
    enter the arithmetic in the gradients' dtype, so no intermediate is rounded to the
    storage dtype (eager and jit then agree); only the stored state is rounded."""
    return jax.tree.map(
        lambda m, g: m.astype(numerics.common_dtype(m.dtype, jnp.result_type(g))),
        moments,
        updates,
    )


def _same_dtypes_positive(new: Any, old: Any) -> Any:
    """`gradtx.tree.cast_like` for a non-negative second moment, which in float16 never rounds a
    positive value down to 0: it keeps float16's smallest subnormal (2**-24) instead, so
    that a zero gradient after tiny ones divides by ``sqrt(v)``, not by ``eps`` alone,
    and stays in float16's range (``|m| <= sqrt(v)`` bounds the update as in float32)."""

    def store(n: jax.Array, o: jax.Array) -> jax.Array:
        if o.dtype == jnp.float16:
            n = jnp.where(n > 0, jnp.maximum(n, 2.0**-24), n)
        return n.astype(o.dtype)

    return jax.tree.map(store, new, old)


def _promote_maximum(a: jax.Array, b: jax.Array) -> jax.Array:
    """``max(a, b)`` in the operands' common dtype."""
    dtype = numerics.common_dtype(a.dtype, b.dtype)
    return jnp.maximum(a.astype(dtype), b.astype(dtype))


def _divide(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a / b`` in the operands' common dtype."""
    dtype = numerics.common_dtype(a.dtype, b.dtype)
    return a.astype(dtype) / b.astype(dtype)


def _sub(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a - b`` in the operands' common dtype."""
    return numerics.promote_add(a, -b)


def _lerp(decay: Any, old: jax.Array, new: jax.Array) -> jax.Array:
    """``(1 - decay) * new + decay * old`` with explicit promotion (Optax's order)."""
    return numerics.promote_add(
        numerics.scalar_mul(1 - decay, new), numerics.scalar_mul(decay, old)
    )


def _debiased_first_moment(mu: Any, updates: Any, b1: Any, count: jax.Array, nesterov: bool) -> Any:
    """``mu / (1 - b1**t)``, or with ``nesterov`` Dozat's look-ahead estimate

    ``b1 * mu / (1 - b1**(t+1)) + (1 - b1) * g / (1 - b1**t)``.
    """
    if not nesterov:
        return numerics.bias_correction(mu, b1, count)
    return jax.tree.map(
        lambda m, g: numerics.promote_add(
            numerics.scalar_mul(b1, m), numerics.scalar_mul(1 - b1, g)
        ),
        numerics.bias_correction(mu, b1, numerics.safe_increment(count)),
        numerics.bias_correction(updates, b1, count),
    )
