"""Mechanic: learns a scale for any base optimizer's updates (a learning-rate tuner)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Updates,
    numerics,
    validate,
    with_extra_args_support,
)

__all__ = ["MechanicState", "mechanize"]


class MechanicState(NamedTuple):
    """State of `mechanize`.

    Attributes:
      base_optimizer_state: the base optimizer's state.
      count: updates so far (int32, saturating).
      r: per-beta wealth accumulators, shape ``(num_betas,)`` (lowest float dtype).
      m: per-beta running maxima of :math:`|h|`.
      v: per-beta sums of :math:`h^2`.
      s: per-beta scales; the applied scale is their sum.
      x0: the reference point :math:`x_0` (the parameters at the first update).
    """

    base_optimizer_state: OptState
    count: jax.Array
    r: jax.Array
    m: jax.Array
    v: jax.Array
    s: jax.Array
    x0: Updates


def mechanize(
    base_optimizer: GradientTransformation,
    weight_decay: float = 1e-2,
    eps: float = 1e-8,
    s_init: float = 1e-6,
    num_betas: int = 6,
) -> GradientTransformationExtraArgs:
    r"""Mechanic: scale ``base_optimizer``'s updates by a learned :math:`s_t = \sum_j s_{t,j}`.

    With :math:`\Delta_t = \sum_{i<t} \mathrm{base}_i` the base optimizer's cumulative
    update, Mechanic plays :math:`x_t = x_0 + s_t \Delta_t` and learns :math:`s` by
    coin-betting on :math:`h_t = \langle g_t + \lambda\, s\, \|g_t\| / \|x_t\|\, x_t,\
    \Delta_t\rangle` with one bettor per :math:`\beta_j = 1 - 10^{-j}`:

    .. math::
        m_j \leftarrow \max(\beta_j m_j, |h_t| + \epsilon), \quad
        v_j \leftarrow \beta_j^2 v_j + h_t^2, \quad
        r_j \leftarrow \beta_j r_j + \mathrm{clip}(h_t, \pm m_j)\, s_j \\
        s_j = \big(s_{init} m_j / n + (r_j)_+\big) / (\sqrt{v_j} + \epsilon)

    Args:
      base_optimizer: the optimizer whose updates are scaled (with its learning rate).
      weight_decay: :math:`\lambda`, >= 0. Default 1e-2.
      eps: added to denominators, >= 0. Default 1e-8.
      s_init: the initial scale per bettor, > 0. Default 1e-6.
      num_betas: the number :math:`n` of bettors, an integer >= 1. Default 6.

    Returns:
      A `GradientTransformationExtraArgs` with `MechanicState`; ``update`` needs
      ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.mechanize(gradtx.sgd(0.1))
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(50):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(jnp.sum(state.s) > 6e-6)  # the scale grew
      True

    References:
      Cutkosky et al., "Mechanic: A Learning Rate Tuner", NeurIPS 2023,
      https://arxiv.org/abs/2306.00144
    """
    fn = "mechanize"
    validate.non_negative(fn, weight_decay=weight_decay, eps=eps)
    validate.positive(fn, s_init=s_init)
    validate.integer(fn, "num_betas", num_betas, 1)
    base_optimizer = with_extra_args_support(base_optimizer)

    def init_fn(params):
        dtype = numerics.lowest_float_dtype(params)

        def zeros():  # one buffer per field: a donated state must not alias itself
            return jnp.zeros([num_betas], dtype)

        return MechanicState(
            base_optimizer_state=base_optimizer.init(params),
            count=numerics.zero_count(),
            r=zeros(),
            m=zeros(),
            v=zeros(),
            s=jnp.ones([num_betas], dtype) * s_init,
            # A copy: the state must not hold the params' own buffers (a donated step).
            x0=jax.tree.map(jnp.copy, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        base_updates, base_state = base_optimizer.update(
            updates, state.base_optimizer_state, params, **extra_args
        )
        x0 = jax.lax.cond(state.count == 0, lambda: params, lambda: state.x0)
        with jax.numpy_dtype_promotion("standard"):
            s_sum = jnp.sum(state.s)
            ratio = weight_decay * s_sum * tree_lib.l2_norm(updates)
            ratio = ratio / (tree_lib.l2_norm(params) + eps)
            grads = jax.tree.map(lambda g, p: g + ratio * p, updates, params)
            delta_prev = jax.tree.map(lambda x, x0_: (x0_ - x) / (s_sum + eps), params, x0)
            delta = jax.tree.map(lambda d, u: d - u, delta_prev, base_updates)
            h = tree_lib.vdot(grads, delta_prev)
            clipped = jax.lax.clamp(
                -state.m, jnp.ones_like(state.m) * h.astype(state.m.dtype), state.m
            )
            betas = jnp.array([1.0 - 0.1**j for j in range(1, num_betas + 1)], state.s.dtype)
            m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
            v = betas**2 * state.v + h**2
            r = betas * state.r + clipped * state.s
            wealth = (s_init / num_betas) * m + jnp.maximum(0.0, r)
            s = wealth / (jnp.sqrt(v) + eps)
            new = jax.tree.map(
                lambda x0_, d, p, g: (x0_ - jnp.sum(s) * d - p).astype(g.dtype),
                x0,
                delta,
                params,
                updates,
            )
        cast = lambda a, b: a.astype(b.dtype)  # noqa: E731
        return new, MechanicState(
            base_optimizer_state=base_state,
            count=numerics.safe_increment(state.count),
            r=cast(r, state.r),
            m=cast(m, state.m),
            v=cast(v, state.v),
            s=cast(s, state.s),
            x0=x0,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
