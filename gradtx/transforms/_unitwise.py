"""Unit-wise norms and clipping (the building blocks of adaptive gradient clipping)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradtx.core import numerics
from gradtx.transforms._clipping import _unitwise_norm

__all__ = ["unitwise_clip", "unitwise_norm"]


def unitwise_norm(x: jax.Array, axis: int | tuple[int, ...] | None = None) -> jax.Array:
    """The L2 norm of each unit of ``x`` (an output neuron), broadcast to ``x``'s shape.

    Without ``axis``, a unit is the whole leaf for scalars and vectors, a column for
    dense kernels ``(in, out)`` and multi-head kernels (sum over axis 0), and an output
    channel for conv kernels ``HWIO``/``DHWIO`` (sum over all axes but the last).

    Args:
      x: an array of rank at most 5 (any rank with ``axis``).
      axis: the axes that form a unit, or ``None`` for the defaults above.

    Returns:
      An array shaped like ``x``.

    Raises:
      ValueError: for a rank above 5 without ``axis``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.unitwise_norm(jnp.array([[3.0, 0.0], [4.0, 1.0]])).tolist()
      [[5.0, 1.0], [5.0, 1.0]]

    References:
      Brock et al., "High-Performance Large-Scale Image Recognition Without
      Normalization", ICML 2021, https://arxiv.org/abs/2102.06171
    """
    return _unitwise_norm(jnp.asarray(x), axis)


def unitwise_clip(
    g_norm: jax.Array, max_norm: jax.Array, grad: jax.Array, div_eps: float = 1e-6
) -> jax.Array:
    """Rescale ``grad`` where its unit norm ``g_norm`` exceeds ``max_norm``.

    .. math:: g' = \\begin{cases} g & \\|g\\| < m \\\\
        g\\, m / \\max(\\|g\\|, \\delta) & \\text{otherwise} \\end{cases}

    Args:
      g_norm: the unit-wise norms of ``grad`` (e.g. from `unitwise_norm`).
      max_norm: the bound per element, shaped like ``g_norm``.
      grad: the gradient, shaped like ``g_norm``.
      div_eps: :math:`\\delta`, guards the division. Default 1e-6.

    Returns:
      The clipped gradient.

    Raises:
      ValueError: if the three shapes differ.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> g = jnp.array([3.0, 4.0])
      >>> n = gradtx.unitwise_norm(g)
      >>> gradtx.unitwise_clip(n, jnp.full(2, 1.0), g).round(3).tolist()
      [0.6, 0.8]
    """
    shapes = {jnp.shape(g_norm), jnp.shape(max_norm), jnp.shape(grad)}
    if len(shapes) != 1:
        raise ValueError(
            f"unitwise_clip: g_norm, max_norm and grad must have one shape, got "
            f"{jnp.shape(g_norm)}, {jnp.shape(max_norm)}, {jnp.shape(grad)}"
        )
    grad = jnp.asarray(grad)
    dtype = grad.dtype
    g_norm = jnp.asarray(g_norm).astype(dtype)
    max_norm = jnp.asarray(max_norm).astype(dtype)
    clipped = grad * (max_norm / jnp.maximum(g_norm, numerics.as_dtype(div_eps, dtype)))
    return jnp.where(g_norm < max_norm, grad, clipped)
