"""Optimistic gradient: extrapolate with the change of the gradient."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, numerics, validate

__all__ = ["ScaleByOptimisticGradientState", "scale_by_optimistic_gradient"]


class ScaleByOptimisticGradientState(NamedTuple):
    """State of `scale_by_optimistic_gradient`.

    Attributes:
      is_initial_step: a boolean scalar, true before the first update.
      previous_gradient: the last update's incoming gradient.
    """

    is_initial_step: jax.Array
    previous_gradient: Updates


def scale_by_optimistic_gradient(alpha: float = 1.0, beta: float = 1.0) -> GradientTransformation:
    """Optimistic gradient: the current gradient plus a correction by the last one.

    .. math:: u_t = (\\alpha + \\beta)\\, g_t - \\beta\\, g_{t-1}, \\qquad g_{-1} = g_0

    With :math:`\\alpha = \\beta = 1` followed by a learning rate :math:`\\eta`, this is
    optimistic gradient descent :math:`x_{t+1} = x_t - 2\\eta g_t + \\eta g_{t-1}`
    (Daskalakis et al., OGD), which converges on bilinear min-max games where gradient
    descent-ascent cycles. The first step uses :math:`g_0` for the missing
    :math:`g_{-1}`, so it is :math:`\\alpha g_0`.

    Args:
      alpha: :math:`\\alpha`, the weight of the current gradient (any finite number).
      beta: :math:`\\beta`, the weight of the correction (any finite number).

    Returns:
      A `GradientTransformation` with `ScaleByOptimisticGradientState`.

    Raises:
      ValueError: if ``alpha`` or ``beta`` is NaN or infinite.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_optimistic_gradient()
      >>> state = tx.init(jnp.zeros(1))
      >>> for g in (1.0, 3.0):
      ...     updates, state = tx.update(jnp.array([g]), state)
      ...     print(updates.tolist())
      [1.0]
      [5.0]

    References:
      Daskalakis et al., "Training GANs with Optimism", ICLR 2018,
      https://arxiv.org/abs/1711.00141
    """
    fn = "scale_by_optimistic_gradient"
    validate.finite(fn, alpha=alpha, beta=beta)

    def init_fn(params):
        return ScaleByOptimisticGradientState(
            is_initial_step=jnp.asarray(True), previous_gradient=tree_lib.zeros_like(params)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.previous_gradient)

        def one(g, prev):
            if not numerics.is_float(g):  # not trainable: a zero update of its own dtype
                return jnp.zeros_like(g)
            prev = jnp.where(state.is_initial_step, g, prev.astype(g.dtype))
            if isinstance(alpha, (int, float)) and isinstance(beta, (int, float)):
                return (alpha + beta) * g - beta * prev
            return (
                numerics.as_dtype(alpha, g.dtype) + numerics.as_dtype(beta, g.dtype)
            ) * g - numerics.as_dtype(beta, g.dtype) * prev

        new_updates = jax.tree.map(one, updates, state.previous_gradient)
        new_state = ScaleByOptimisticGradientState(
            is_initial_step=jnp.asarray(False),
            previous_gradient=jax.tree.map(
                lambda g, p: g.astype(p.dtype), updates, state.previous_gradient
            ),
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)
