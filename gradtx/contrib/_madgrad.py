"""MADGRAD: momentumized, adaptive, dual-averaged gradient method."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.contrib import _util
from gradtx.core import GradientTransformation, Params, Updates, chain, numerics, validate
from gradtx.transforms import add_decayed_weights

__all__ = ["MadgradState", "madgrad", "scale_by_madgrad"]


class MadgradState(NamedTuple):
    """State of `scale_by_madgrad`.

    Attributes:
      count: updates so far (int32, saturating).
      grad_sum_sq: :math:`\\nu_t = \\sum_i \\lambda_i g_i^2`.
      s: :math:`s_t = \\sum_i \\lambda_i g_i`.
      x0: the initial parameters :math:`x_0`.
    """

    count: jax.Array
    grad_sum_sq: Updates
    s: Updates
    x0: Params


def scale_by_madgrad(
    learning_rate: Any, momentum: float = 0.9, eps: float = 1e-6
) -> GradientTransformation:
    r"""MADGRAD's step (it includes the learning rate).

    .. math::
        \lambda_t = (\eta_t + \epsilon) \sqrt{t + 1}, \qquad
        s_t = s_{t-1} + \lambda_t g_t, \qquad \nu_t = \nu_{t-1} + \lambda_t g_t^2 \\
        z_t = x_0 - s_t / (\nu_t^{1/3} + \epsilon), \qquad
        x_{t+1} = (1 - c)\, z_t + c\, x_t, \qquad u_t = x_{t+1} - x_t

    with :math:`c` = ``momentum`` (:math:`t` counts from 0).

    Args:
      learning_rate: a number or a schedule.
      momentum: the averaging :math:`c`, in [0, 1). Default 0.9.
      eps: added to the learning rate and the cube root, >= 0. Default 1e-6.

    Returns:
      A `GradientTransformation` with `MadgradState`; ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_madgrad(0.1, momentum=0.0, eps=0.0)
      >>> x = jnp.array([0.0])
      >>> u, _ = tx.update(jnp.array([8.0]), tx.init(x), x)
      >>> u.round(4).tolist()  # -s / nu^(1/3) = -(0.1 * 8) / (0.1 * 64)^(1/3)
      [-0.4309]

    References:
      Defazio and Jelassi, "Adaptivity without Compromise: A Momentumized, Adaptive,
      Dual Averaged Gradient Method for Stochastic Optimization", JMLR 2022,
      https://arxiv.org/abs/2101.11075
    """
    fn = "scale_by_madgrad"
    validate.decay(fn, momentum=momentum)
    validate.non_negative(fn, eps=eps)
    validate.finite(fn, learning_rate=learning_rate)

    def init_fn(params):
        return MadgradState(
            count=numerics.zero_count(),
            grad_sum_sq=tree_lib.zeros_like(params),
            s=tree_lib.zeros_like(params),
            # A copy: the state must not hold the params' own buffers (a donated step).
            x0=jax.tree.map(jnp.copy, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.s)
        count = numerics.safe_increment(state.count)  # saturates: sqrt(k + 1) stays finite
        lr = _util.value(learning_rate, state.count)
        with jax.numpy_dtype_promotion("standard"):
            lamb = (lr + eps) * jnp.sqrt(count)
            nu = jax.tree.map(
                lambda v, g: v + (lamb * g**2).astype(g.dtype), state.grad_sum_sq, updates
            )
            s = jax.tree.map(lambda s_, g: s_ + (lamb * g).astype(g.dtype), state.s, updates)
            new = jax.tree.map(
                lambda x0, s_, v, x, g: (
                    (1 - momentum) * (x0 - s_ / (jnp.cbrt(v) + eps)) + momentum * x - x
                ).astype(g.dtype),
                state.x0,
                s,
                nu,
                params,
                updates,
            )
        return new, MadgradState(
            count=count,
            grad_sum_sq=tree_lib.cast_like(nu, state.grad_sum_sq),
            s=tree_lib.cast_like(s, state.s),
            x0=state.x0,
        )

    return GradientTransformation(init_fn, update_fn)


def madgrad(
    learning_rate: Any,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    eps: float = 1e-6,
) -> GradientTransformation:
    """MADGRAD with weight decay added to the gradient.

    ``chain(add_decayed_weights(weight_decay), scale_by_madgrad(learning_rate,
    momentum, eps))``; see `scale_by_madgrad`.

    Args:
      learning_rate: a number or a schedule.
      momentum: the averaging, in [0, 1). Default 0.9.
      weight_decay: weight decay added to the gradient, >= 0. Default 0.
      eps: see `scale_by_madgrad`. Default 1e-6.

    Returns:
      A `GradientTransformation` (a `chain`); ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.madgrad(0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(30):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(params) < 14.0)
      True

    References:
      Defazio and Jelassi, "Adaptivity without Compromise", JMLR 2022,
      https://arxiv.org/abs/2101.11075
    """
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_madgrad(learning_rate=learning_rate, momentum=momentum, eps=eps),
    )
