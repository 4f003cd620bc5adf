"""Optax's top-level numerical utilities: safe norms and counters, gradient scaling,
periodic updates and a diagonal Gaussian."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm as _normal

from gradtx import tree as tree_lib
from gradtx.core import numerics
from gradtx.core._base import TransformUpdateFn

__all__ = [
    "MultiNormalDiagFromLogScale",
    "TransformUpdateExtraArgsFn",
    "global_norm",
    "multi_normal",
    "periodic_update",
    "safe_increment",
    "safe_int32_increment",
    "safe_norm",
    "safe_root_mean_squares",
    "scale_gradient",
]

# Optax has a separate protocol for updates that take extra keyword arguments; every
# gradtx update does, so it is the one protocol.
TransformUpdateExtraArgsFn = TransformUpdateFn


def safe_norm(
    x: jax.Array, min_norm: Any, ord: Any = None, axis: Any = None, keepdims: bool = False
) -> jax.Array:
    """``max(||x||, min_norm)`` whose gradient is finite (zero where the norm is clamped).

    Args:
      x: an array.
      min_norm: the lower bound (>= 0).
      ord: the norm's order, as in ``jnp.linalg.norm``.
      axis: the axes to reduce (``None``: all).
      keepdims: keep the reduced axes with size 1.

    Returns:
      The clamped norm.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> float(gradtx.safe_norm(jnp.array([3.0, 4.0]), 1.0))
      5.0
      >>> jax.grad(lambda x: gradtx.safe_norm(x, 1e-3))(jnp.zeros(2)).tolist()
      [0.0, 0.0]
    """
    return numerics.safe_norm(x, min_norm, ord=ord, axis=axis, keepdims=keepdims)


def safe_root_mean_squares(x: jax.Array, min_rms: Any) -> jax.Array:
    """``max(rms(x), min_rms)`` with a finite gradient everywhere.

    Args:
      x: an array.
      min_rms: the lower bound (>= 0).

    Returns:
      A scalar.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> float(gradtx.safe_root_mean_squares(jnp.array([1.0, -1.0]), 0.1))
      1.0
    """
    return numerics.safe_root_mean_squares(x, min_rms)


def safe_increment(count: Any) -> jax.Array:
    """``count + 1`` that stops at the dtype's largest value instead of overflowing.

    Args:
      count: an integer or floating array (usually an int32 step counter).

    Returns:
      The incremented count, same dtype.

    Raises:
      ValueError: for a dtype that is neither integer nor floating.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> int(gradtx.safe_increment(jnp.array(3, jnp.int32)))
      4
      >>> top = jnp.iinfo(jnp.int32).max
      >>> int(gradtx.safe_increment(jnp.array(top, jnp.int32))) == top
      True
    """
    count = jnp.asarray(count)
    if jnp.issubdtype(count.dtype, jnp.integer):
        return numerics.safe_increment(count)
    if not jnp.issubdtype(count.dtype, jnp.floating):
        raise ValueError(
            f"safe_increment: cannot safely increment a count of dtype {count.dtype}; "
            "valid dtypes are integer or floating"
        )
    top = jnp.asarray(jnp.finfo(count.dtype).max, count.dtype)
    return jnp.where(count < top, count + jnp.asarray(1, count.dtype), top)


safe_int32_increment = safe_increment


def global_norm(updates: Any) -> jax.Array:
    """The Euclidean norm of all leaves together: ``gradtx.tree.global_norm(updates)``.

    Args:
      updates: a tree.

    Returns:
      A scalar (float32, or float64 when a leaf is float64).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> float(gradtx.global_norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])}))
      5.0
    """
    return tree_lib.global_norm(updates)


@jax.custom_vjp
def _scaled_identity(inputs: Any, scale: Any) -> Any:
    del scale
    return inputs


def _scaled_identity_fwd(inputs, scale):
    return inputs, scale


def _scaled_identity_bwd(scale, cotangent):
    def one(c):
        if isinstance(scale, (int, float)):
            return c * scale
        return c * jnp.asarray(scale).astype(c.dtype)

    return jax.tree.map(one, cotangent), None


_scaled_identity.defvjp(_scaled_identity_fwd, _scaled_identity_bwd)


def scale_gradient(inputs: Any, scale: Any) -> Any:
    """The identity on the forward pass; multiplies the gradient by ``scale`` backwards.

    Args:
      inputs: a tree of arrays.
      scale: the gradient's factor; 1 returns ``inputs`` as they are and 0 stops the
        gradient.

    Returns:
      ``inputs``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(gradtx.scale_gradient(x, 0.5) ** 2)
      >>> float(f(jnp.array(2.0))), float(jax.grad(f)(jnp.array(2.0)))
      (4.0, 2.0)
    """
    if isinstance(scale, (int, float)):
        if scale == 1.0:
            return inputs
        if scale == 0.0:
            return jax.lax.stop_gradient(inputs)
    return _scaled_identity(inputs, scale)


def periodic_update(new_tensors: Any, old_tensors: Any, steps: Any, update_period: Any) -> Any:
    """``new_tensors`` on the steps that are a multiple of ``update_period``, else ``old``.

    Args:
      new_tensors: the tree to take on an update step.
      old_tensors: the tree to keep otherwise (same structure).
      steps: the current step (an integer scalar).
      update_period: the period (a positive integer).

    Returns:
      One of the two trees (selected with ``lax.cond``).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> new, old = jnp.ones(1), jnp.zeros(1)
      >>> [gradtx.periodic_update(new, old, jnp.array(s), 2).tolist() for s in range(3)]
      [[1.0], [0.0], [1.0]]
    """
    return jax.lax.cond(
        jnp.mod(steps, update_period) == 0, lambda: new_tensors, lambda: old_tensors
    )


class MultiNormalDiagFromLogScale:
    """A Gaussian with diagonal covariance, parameterised by its mean and log scale.

    Args:
      loc: the mean.
      log_scale: the log of the standard deviation (broadcast against ``loc``).

    Returns:
      The distribution object, with ``sample``, ``log_prob``, ``log_scale`` and
      ``params``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> dist = gradtx.multi_normal(jnp.zeros(2), jnp.zeros(2))
      >>> dist.sample((3,), jax.random.key(0)).shape
      (3, 2)
      >>> round(float(dist.log_prob(jnp.zeros(2))), 4)
      -1.8379
    """

    def __init__(self, loc: Any, log_scale: Any):
        self._log_scale = jnp.asarray(log_scale)
        self._scale = jnp.exp(self._log_scale)
        self._mean = jnp.asarray(loc)
        self._param_shape = jax.lax.broadcast_shapes(self._mean.shape, self._scale.shape)

    def sample(self, shape: tuple[int, ...], key: jax.Array) -> jax.Array:
        """Draw samples of shape ``shape + param_shape``.

        Args:
          shape: the leading (sample) shape.
          key: a PRNG key.

        Returns:
          The samples.
        """
        full = tuple(shape) + self._param_shape
        noise = jax.random.normal(key, full, self._scale.dtype)
        return noise * jnp.broadcast_to(self._scale, full) + jnp.broadcast_to(self._mean, full)

    def log_prob(self, x: Any) -> jax.Array:
        """The log density, summed over the parameter axes.

        Args:
          x: points of shape ``(..., *param_shape)``.

        Returns:
          The log densities, shape ``(...)``.
        """
        x = jnp.asarray(x)
        shape = jnp.broadcast_shapes(x.shape, self._param_shape)
        per_element = _normal.logpdf(
            jnp.broadcast_to(x, shape),
            loc=jnp.broadcast_to(self._mean, shape),
            scale=jnp.broadcast_to(self._scale, shape),
        )
        axes = tuple(-(i + 1) for i in range(len(self._param_shape)))
        return jnp.sum(per_element, axis=axes)

    @property
    def log_scale(self) -> jax.Array:
        """The log scale."""
        return self._log_scale

    @property
    def params(self) -> list[jax.Array]:
        """``[loc, log_scale]``."""
        return [self._mean, self._log_scale]


def multi_normal(loc: Any, log_scale: Any) -> MultiNormalDiagFromLogScale:
    """A diagonal Gaussian from its mean and log scale (for perturbation methods).

    Args:
      loc: the mean.
      log_scale: the log standard deviation.

    Returns:
      A `MultiNormalDiagFromLogScale`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> dist = gradtx.multi_normal(jnp.ones(3), jnp.log(2.0) * jnp.ones(3))
      >>> dist.params[0].tolist(), round(float(dist.log_scale[0]), 4)
      ([1.0, 1.0, 1.0], 0.6931)
    """
    return MultiNormalDiagFromLogScale(loc=loc, log_scale=log_scale)
