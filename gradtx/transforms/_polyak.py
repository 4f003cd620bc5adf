"""The Polyak step size: the loss gap divided by the squared gradient norm."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    init_empty_state,
    numerics,
    validate,
)

__all__ = ["scale_by_polyak"]

# Optax compares with the float64 machine epsilon whatever the dtypes (jnp.finfo(float)).
_TINY = float(jnp.finfo(float).eps)


def scale_by_polyak(
    f_min: float = 0.0,
    max_learning_rate: float = 1.0,
    eps: float = 0.0,
    variant: str = "sps",
) -> GradientTransformation:
    """Scale the updates by the (capped) stochastic Polyak step size.

    With the loss value :math:`f(x_t)` passed as ``value=``:

    .. math::
        \\gamma_t = \\min\\left(\\frac{f(x_t) - f^\\star}{\\|g_t\\|^2 + \\epsilon},
        \\gamma_{\\max}\\right), \\qquad u_t = \\gamma_t g_t

    (SPS_max of Loizou et al.). ``variant="sps+"`` uses :math:`\\max(f(x_t) - f^\\star,
    0)` instead of the gap. Where :math:`\\|g_t\\|^2 + \\epsilon` is at most the float64
    machine epsilon the step is zero.

    Args:
      f_min: :math:`f^\\star`, a lower bound on the loss (0 for interpolating models).
      max_learning_rate: :math:`\\gamma_{\\max}`, the cap, >= 0. Default 1.
      eps: :math:`\\epsilon`, added to the squared norm, >= 0. Default 0.
      variant: ``"sps"`` or ``"sps+"``.

    Returns:
      A `GradientTransformation` with `EmptyState`; ``update`` needs ``value=``.

    Raises:
      ValueError: for a hyperparameter outside the ranges above, or an ``update``
        without ``value=``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_polyak(max_learning_rate=10.0)
      >>> g = jnp.array([1.0, 1.0])
      >>> updates, _ = tx.update(g, tx.init(g), value=jnp.array(1.0))
      >>> updates.tolist()
      [0.5, 0.5]

    References:
      Loizou et al., "Stochastic Polyak Step-size for SGD: An Adaptive Learning Rate for
      Fast Convergence", AISTATS 2021, https://arxiv.org/abs/2002.10542
    """
    fn = "scale_by_polyak"
    validate.finite(fn, f_min=f_min)
    validate.non_negative(fn, max_learning_rate=max_learning_rate, eps=eps)
    validate.one_of(fn, "variant", variant, ("sps", "sps+"))

    def update_fn(updates, state, params=None, **extra_args):
        del params
        value = validate.require_extra_arg(fn, extra_args, "value")
        sq_norm = tree_lib.l2_norm(updates, squared=True)
        dtype = sq_norm.dtype
        gap = jnp.asarray(value).astype(dtype) - numerics.as_dtype(f_min, dtype)
        if variant == "sps+":
            gap = jnp.maximum(gap, 0)
        denom = sq_norm + numerics.as_dtype(eps, dtype)
        safe = jnp.where(denom <= _TINY, jnp.ones_like(denom), denom)
        step = jnp.minimum(gap / safe, numerics.as_dtype(max_learning_rate, dtype))
        step = jnp.where(denom <= _TINY, jnp.zeros_like(step), step)
        return jax.tree.map(lambda g: step.astype(g.dtype) * g, updates), state

    return GradientTransformationExtraArgs(init_empty_state, update_fn)
