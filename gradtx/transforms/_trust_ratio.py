"""Layer-wise trust ratio ``||theta|| / ||u||`` (LARS, LAMB)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradtx.core import GradientTransformation, init_empty_state, numerics, validate

__all__ = ["scale_by_trust_ratio"]


def scale_by_trust_ratio(
    min_norm: float = 0.0,
    trust_coefficient: float = 1.0,
    eps: float = 0.0,
) -> GradientTransformation:
    """Scale each leaf's update by the ratio of its parameter norm to its update norm.

    .. math::
        r = \\frac{\\eta\\, \\max(\\|\\theta\\|, n_{min})}
        {\\max(\\|u\\|, n_{min}) + \\epsilon}, \\qquad
        u \\leftarrow \\begin{cases} r\\, u & \\|\\theta\\| > 0 \\text{ and } \\|u\\| > 0 \\\\
        u & \\text{otherwise} \\end{cases}

    The norms are Frobenius norms of whole leaves (one "layer" per leaf), computed in
    float32 or wider. A zero parameter or update norm leaves the update unchanged
    (ratio 1), so freshly zero-initialised layers still move.

    Args:
      min_norm: lower bound :math:`n_{min}` on both norms, >= 0. Default 0.
      trust_coefficient: the factor :math:`\\eta`, > 0. Default 1.
      eps: added to the update norm in the denominator, >= 0. Default 0.

    Returns:
      A `GradientTransformation` with `EmptyState`. ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_trust_ratio()
      >>> params = jnp.array([3.0, 4.0])  # norm 5
      >>> u, _ = tx.update(jnp.array([0.0, 0.5]), tx.init(params), params)
      >>> u.round(4).tolist()  # rescaled to norm 5
      [0.0, 5.0]

    References:
      You et al., "Large Batch Training of Convolutional Networks", 2017,
      https://arxiv.org/abs/1708.03888;
      You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76
      minutes", ICLR 2020, https://arxiv.org/abs/1904.00962
    """
    fn = "scale_by_trust_ratio"
    validate.non_negative(fn, min_norm=min_norm, eps=eps)
    validate.positive(fn, trust_coefficient=trust_coefficient)
    validate.finite(fn, min_norm=min_norm, trust_coefficient=trust_coefficient, eps=eps)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)

        def one(u, p):
            if u is None:
                return None
            dtype = numerics.compute_dtype(numerics.common_dtype(u.dtype, p.dtype))
            u_, p_ = u.astype(dtype), p.astype(dtype)
            floor = numerics.as_dtype(min_norm, dtype)
            p_norm = numerics.safe_norm(p_, floor)
            u_norm = numerics.safe_norm(u_, floor)
            ratio = (
                numerics.as_dtype(trust_coefficient, dtype)
                * p_norm
                / (u_norm + numerics.as_dtype(eps, dtype))
            )
            ratio = jnp.where((p_norm == 0) | (u_norm == 0), jnp.ones_like(ratio), ratio)
            return (u_ * ratio).astype(u.dtype)

        return jax.tree.map(one, updates, params, is_leaf=lambda x: x is None), state

    return GradientTransformation(init_empty_state, update_fn)
