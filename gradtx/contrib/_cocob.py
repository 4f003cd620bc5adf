"""COCOB-Backprop: coin-betting, learning-rate-free SGD."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, chain, validate
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["COCOBState", "cocob", "scale_by_cocob"]


class COCOBState(NamedTuple):
    """State of `scale_by_cocob` (every field shaped like the params).

    Attributes:
      init_particles: the initial parameters :math:`x_0`.
      cumulative_gradients: :math:`\\theta_t = -\\sum_i g_i`.
      scale: :math:`L_t = \\max(\\epsilon, \\max_i |g_i|)`.
      subgradients: :math:`G_t = \\sum_i |g_i|`.
      reward: :math:`R_t = \\max(0, R_{t-1} - g_t (x_t - x_0))`.
    """

    init_particles: Updates
    cumulative_gradients: Updates
    scale: Updates
    subgradients: Updates
    reward: Updates


def scale_by_cocob(alpha: float = 100.0, eps: float = 1e-8) -> GradientTransformation:
    r"""Replace the updates by COCOB-Backprop's coin-betting step (per coordinate).

    .. math::
        L_t = \max(L_{t-1}, |g_t|), \quad G_t = G_{t-1} + |g_t|, \quad
        R_t = \max(R_{t-1} - g_t (x_t - x_0), 0), \quad \theta_t = \theta_{t-1} - g_t \\
        u_t = x_0 + \frac{\theta_t}{L_t \max(G_t + L_t, \alpha L_t)} (L_t + R_t) - x_t

    Args:
      alpha: the bound on the early steps, > 0. Default 100.
      eps: the initial :math:`L_0`, >= 0. Default 1e-8.

    Returns:
      A `GradientTransformation` with `COCOBState`; ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_cocob()
      >>> x = jnp.array([1.0])
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(x), x)
      >>> u.round(4).tolist()  # -g / (alpha * L) * L
      [-0.01]

    References:
      Orabona and Tommasi, "Training Deep Networks without Learning Rates Through Coin
      Betting", NeurIPS 2017, https://arxiv.org/abs/1705.07795
    """
    fn = "scale_by_cocob"
    validate.positive(fn, alpha=alpha)
    validate.non_negative(fn, eps=eps)

    def init_fn(params):
        zeros = tree_lib.zeros_like(params)
        return COCOBState(
            # A copy: the state must not hold the params' own buffers (a donated step).
            init_particles=jax.tree.map(jnp.copy, params),
            cumulative_gradients=zeros,
            scale=tree_lib.full_like(params, eps),
            subgradients=tree_lib.zeros_like(params),
            reward=tree_lib.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.cumulative_gradients)
        with jax.numpy_dtype_promotion("standard"):
            scale = jax.tree.map(lambda L, g: jnp.maximum(L, jnp.abs(g)), state.scale, updates)
            subgrads = jax.tree.map(lambda G, g: G + jnp.abs(g), state.subgradients, updates)
            reward = jax.tree.map(
                lambda R, g, p, p0: jnp.maximum(R - g * (p - p0), 0),
                state.reward,
                updates,
                params,
                state.init_particles,
            )
            theta = jax.tree.map(lambda C, g: C - g, state.cumulative_gradients, updates)
            new = jax.tree.map(
                lambda p, p0, C, L, G, R, g: (
                    -p + (p0 + C / (L * jnp.maximum(G + L, alpha * L)) * (L + R))
                ).astype(g.dtype),
                params,
                state.init_particles,
                theta,
                scale,
                subgrads,
                reward,
                updates,
            )
        return new, COCOBState(
            init_particles=state.init_particles,
            cumulative_gradients=tree_lib.cast_like(theta, state.cumulative_gradients),
            scale=tree_lib.cast_like(scale, state.scale),
            subgradients=tree_lib.cast_like(subgrads, state.subgradients),
            reward=tree_lib.cast_like(reward, state.reward),
        )

    return GradientTransformation(init_fn, update_fn)


def cocob(
    learning_rate: Any = 1.0,
    alpha: float = 100.0,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    mask: Any = None,
) -> GradientTransformation:
    """COCOB-Backprop with weight decay.

    ``chain(add_decayed_weights(weight_decay, mask), scale_by_learning_rate(
    learning_rate, flip_sign=False), scale_by_cocob(alpha, eps))``: the learning rate
    scales the *gradient* the bettor sees (1 is the method as published). See
    `scale_by_cocob`.

    Args:
      learning_rate: scale of the gradients (number or schedule). Default 1.
      alpha: the bound on the early steps, > 0. Default 100.
      eps: the initial :math:`L_0`, >= 0. Default 1e-8.
      weight_decay: weight decay added to the gradient, >= 0. Default 0.
      mask: which parameters decay.

    Returns:
      A `GradientTransformation` (a `chain`); ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.cocob()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(30):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(params) < 14.0)
      True

    References:
      Orabona and Tommasi, "Training Deep Networks without Learning Rates Through Coin
      Betting", NeurIPS 2017, https://arxiv.org/abs/1705.07795
    """
    return chain(
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate, flip_sign=False),
        scale_by_cocob(alpha, eps),
    )
