"""DoG: step sizes from the distance travelled over the accumulated gradient norm."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, OptState, numerics, validate

__all__ = ["ScaleByDistanceOverGradientsState", "scale_by_distance_over_gradients"]


class ScaleByDistanceOverGradientsState(NamedTuple):
    """State of `scale_by_distance_over_gradients`.

    Attributes:
      max_dist: per leaf, :math:`\\bar r_t`, the largest distance from the initial
        parameters so far (a scalar in the parameter's dtype).
      grad_sum_of_squares: per leaf, :math:`\\sum_{s \\le t} \\|g_s\\|^2` (float32, shape
        ``(1,)`` as in Optax).
      init_params: the initial parameters, cast to ``param_dtype``.
    """

    max_dist: OptState
    grad_sum_of_squares: OptState
    init_params: OptState


def _l2(x: jax.Array, y: Any = None) -> jax.Array:
    """``||x - y||`` in the two operands' common dtype (Optax's promotion)."""
    if y is None:
        return jnp.sqrt(jnp.sum(numerics.abs_sq(x)))
    dtype = numerics.common_dtype(jnp.result_type(x), jnp.result_type(y))
    d = jnp.asarray(x).astype(dtype) - jnp.asarray(y).astype(dtype)
    return jnp.sqrt(jnp.sum(numerics.abs_sq(d)))


def scale_by_distance_over_gradients(
    reps_rel=1e-6, eps=1e-8, param_dtype=jnp.float32, global_scale=1.0
) -> GradientTransformation:
    """Layer-wise DoG: distance over gradients, a step size without tuning.

    For each leaf (layer) :math:`x` with initial value :math:`x_0`:

    .. math::
        \\bar r_t = \\max\\big(\\bar r_{t-1}, \\|x_t - x_0\\|\\big), \\quad
        \\bar r_{-1} = r_\\epsilon (1 + \\|x_0\\|), \\qquad
        G_t = G_{t-1} + \\|g_t\\|^2, \\\\
        u_t = s\\, \\frac{\\bar r_t}{\\sqrt{G_t + \\epsilon}}\\, g_t

    (L-DoG of Ivgi et al.; the paper's global DoG uses one norm over all leaves). The
    output has the gradient's sign: chain it with ``scale_by_learning_rate(1.0)`` to
    descend.

    Args:
      reps_rel: :math:`r_\\epsilon`, the relative initial distance, > 0. Default 1e-6.
      eps: :math:`\\epsilon`, added to :math:`G_t`, >= 0. Default 1e-8.
      param_dtype: dtype in which the initial parameters are stored. Default float32.
      global_scale: :math:`s`, a global factor (any finite number). Default 1.

    Returns:
      A `GradientTransformation` with `ScaleByDistanceOverGradientsState`; ``update``
      needs ``params``.

    Raises:
      ValueError: for a hyperparameter outside the ranges above, or an ``update``
        without params.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_distance_over_gradients(reps_rel=0.1)
      >>> params = jnp.array([3.0, 4.0])
      >>> updates, _ = tx.update(jnp.array([1.0, 0.0]), tx.init(params), params)
      >>> updates.round(4).tolist()
      [0.6, 0.0]

    References:
      Ivgi et al., "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size
      Schedule", ICML 2023, https://arxiv.org/abs/2302.12022
    """
    fn = "scale_by_distance_over_gradients"
    validate.positive(fn, reps_rel=reps_rel)
    validate.non_negative(fn, eps=eps)
    validate.finite(fn, global_scale=global_scale)
    param_dtype = numerics.canonicalize_dtype(param_dtype)

    def init_fn(params):
        return ScaleByDistanceOverGradientsState(
            max_dist=jax.tree.map(lambda x: (reps_rel * (1 + _l2(x))).astype(x.dtype), params),
            grad_sum_of_squares=jax.tree.map(lambda x: jnp.zeros(1, jnp.float32), params),
            # A copy: the state must not hold the params' own buffers (a donated step).
            init_params=jax.tree.map(jnp.copy, tree_lib.cast(params, param_dtype)),
        )

    def one(g, d, g_sos):
        eta = jnp.reshape(
            numerics.as_dtype(global_scale, d.dtype) * d / jnp.sqrt(g_sos + eps).astype(d.dtype),
            (),
        )
        return eta.astype(g.dtype) * g

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, params, what="params")
        max_dist = jax.tree.map(
            lambda d, x, x0: jnp.maximum(d, _l2(x, x0).astype(d.dtype)),
            state.max_dist,
            params,
            state.init_params,
        )
        g_sos = jax.tree.map(
            lambda s, g: s + jnp.sum(numerics.abs_sq(g)).astype(s.dtype),
            state.grad_sum_of_squares,
            updates,
        )
        updates = jax.tree.map(one, updates, max_dist, g_sos)
        return updates, ScaleByDistanceOverGradientsState(max_dist, g_sos, state.init_params)

    return GradientTransformation(init_fn, update_fn)
