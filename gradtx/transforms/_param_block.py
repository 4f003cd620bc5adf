"""Scaling by the size of each parameter block, or normalising by the update's norm."""

from __future__ import annotations

import jax

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, init_empty_state, numerics, validate

__all__ = ["normalize_by_update_norm", "scale_by_param_block_norm", "scale_by_param_block_rms"]


def _by_param_block(fn: str, measure, min_scale) -> GradientTransformation:
    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, params, what="params")

        def one(u, p):
            # In at least float32: the squares of a float16 block would overflow.
            dtype = numerics.compute_dtype(numerics.common_dtype(u.dtype, p.dtype))
            factor = measure(p.astype(dtype), numerics.as_dtype(min_scale, dtype))
            return (u.astype(dtype) * factor).astype(u.dtype)

        return jax.tree.map(one, updates, params), state

    return GradientTransformation(init_empty_state, update_fn)


def scale_by_param_block_norm(min_scale: float = 1e-3) -> GradientTransformation:
    """Scale each leaf's update by the norm of its parameter block.

    .. math:: u_t = \\max(\\|x_t\\|_2, m)\\, g_t \\quad \\text{per leaf}

    Args:
      min_scale: :math:`m`, the smallest factor (protects zero-initialised blocks), >= 0.
        Default 1e-3.

    Returns:
      A `GradientTransformation` with `EmptyState`; ``update`` needs ``params``.

    Raises:
      ValueError: if ``min_scale`` is negative or NaN, or ``update`` gets no params.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_param_block_norm()
      >>> params = {"w": jnp.array([3.0, 4.0]), "b": jnp.zeros(2)}
      >>> g = {"w": jnp.ones(2), "b": jnp.ones(2)}
      >>> u, _ = tx.update(g, tx.init(params), params)
      >>> u["w"].tolist(), u["b"].tolist()
      ([5.0, 5.0], [0.001, 0.001])
    """
    fn = "scale_by_param_block_norm"
    validate.non_negative(fn, min_scale=min_scale)
    return _by_param_block(fn, numerics.safe_norm, min_scale)


def scale_by_param_block_rms(min_scale: float = 1e-3) -> GradientTransformation:
    """Scale each leaf's update by the root mean square of its parameter block.

    .. math:: u_t = \\max(\\operatorname{rms}(x_t), m)\\, g_t \\quad \\text{per leaf}

    (the relative step of Adafactor's ``multiply_by_parameter_scale``).

    Args:
      min_scale: :math:`m`, the smallest factor, >= 0. Default 1e-3.

    Returns:
      A `GradientTransformation` with `EmptyState`; ``update`` needs ``params``.

    Raises:
      ValueError: if ``min_scale`` is negative or NaN, or ``update`` gets no params.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_param_block_rms()
      >>> params = jnp.array([1.0, -1.0, 1.0, -1.0]) * 2.0
      >>> u, _ = tx.update(jnp.ones(4), tx.init(params), params)
      >>> u.tolist()
      [2.0, 2.0, 2.0, 2.0]

    References:
      Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
      ICML 2018, https://arxiv.org/abs/1804.04235
    """
    fn = "scale_by_param_block_rms"
    validate.non_negative(fn, min_scale=min_scale)
    return _by_param_block(fn, numerics.safe_root_mean_squares, min_scale)


def normalize_by_update_norm(
    scale_factor: float = 1.0, eps: float = 1e-6
) -> GradientTransformation:
    """Divide the updates by their global norm (normalised gradient descent).

    .. math:: u_t = s\\, \\frac{g_t}{\\|g_t\\|_2 + \\epsilon}

    Args:
      scale_factor: :math:`s`, the norm of the output (any finite number, nonzero).
        Default 1.
      eps: :math:`\\epsilon`, added to the norm, >= 0. Default 1e-6.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Raises:
      ValueError: if ``eps`` is negative or a value is NaN or infinite.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.normalize_by_update_norm(scale_factor=2.0, eps=0.0)
      >>> g = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}
      >>> u, _ = tx.update(g, tx.init(g))
      >>> round(float(u["a"][0]), 3), round(float(u["b"][0]), 3)
      (1.2, 1.6)
    """
    fn = "normalize_by_update_norm"
    validate.finite(fn, scale_factor=scale_factor)
    validate.non_negative(fn, eps=eps)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        norm = tree_lib.l2_norm(updates)
        denom = (norm + numerics.as_dtype(eps, norm.dtype)) / numerics.as_dtype(
            scale_factor, norm.dtype
        )
        return jax.tree.map(lambda g: (g / denom.astype(g.dtype)).astype(g.dtype), updates), state

    return GradientTransformation(init_empty_state, update_fn)
